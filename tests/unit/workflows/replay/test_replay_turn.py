"""TURN_BEFORE_PLAN stays replay-safe: histories that take its new branches (tests/replay/record_turn.py)
replay with the current code, and without the patch's marker they no longer fit (the turn's
activities are new commands)."""

from __future__ import annotations

import pytest

from tests.replay import REPLAY_HISTORIES
from tests.replay.replaying import recorded, replay_failure
from workflows.provisioning import TURN_BEFORE_PLAN

PATCH = "turn-before-plan"
RECORDED = ["waited_then_completed", "drift_superseded_at_its_turn", "cancelled_while_waiting"]


def test_every_recorded_history_is_listed() -> None:
    assert sorted(p.stem for p in (REPLAY_HISTORIES / PATCH).glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
async def test_a_turn_before_plan_history_replays(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name))
    assert failure is None, f"{name}: {failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_turn_before_plan_history_needs_its_patch_marker(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name), unpatched=TURN_BEFORE_PLAN)
    assert failure is not None, f"{name} replays without {TURN_BEFORE_PLAN}"
