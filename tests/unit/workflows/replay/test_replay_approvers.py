"""DISTINCT_APPROVERS stays replay-safe: histories that take its new branch (tests/replay/record_approvers.py)
replay with the current code, and without the patch's marker they no longer fit (the approvals
that do not count, and the approval lines, are new commands)."""

from __future__ import annotations

import pytest

from tests.replay import REPLAY_HISTORIES
from tests.replay.replaying import recorded, replay_failure
from workflows.provisioning import DISTINCT_APPROVERS

PATCH = "distinct-approvers"
RECORDED = ["two_approvers_then_completed", "unnamed_not_counted_then_late"]


def test_every_recorded_history_is_listed() -> None:
    assert sorted(p.stem for p in (REPLAY_HISTORIES / PATCH).glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
async def test_a_distinct_approvers_history_replays(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name))
    assert failure is None, f"{name}: {failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_distinct_approvers_history_needs_its_patch_marker(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name), unpatched=DISTINCT_APPROVERS)
    assert failure is not None, f"{name} replays without {DISTINCT_APPROVERS}"
