"""FEWER_STEPS_TO_APPLY stays replay-safe: histories recorded with it (tests/replay/record_fewer_steps.py)
replay with the current code, and without the patch's marker they no longer fit (the folded local
activities are other commands)."""

from __future__ import annotations

import pytest

from tests.replay import REPLAY_HISTORIES
from tests.replay.replaying import recorded, replay_failure
from workflows.patches import FEWER_STEPS_TO_APPLY

PATCH = "fewer-steps-to-apply"
RECORDED = [
    "completed_with_its_ptr",
    "ptr_turn_waited",
    "frozen_then_completed",
    "dangling_target_approved",
    "dry_run",
]


def test_every_recorded_history_is_listed() -> None:
    assert sorted(p.stem for p in (REPLAY_HISTORIES / PATCH).glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
async def test_a_fewer_steps_history_replays(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name))
    assert failure is None, f"{name}: {failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_fewer_steps_history_needs_its_patch_marker(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name), unpatched=FEWER_STEPS_TO_APPLY)
    assert failure is not None, f"{name} replays without {FEWER_STEPS_TO_APPLY}"
