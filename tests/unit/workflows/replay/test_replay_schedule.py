"""SCHEDULED_CHANGES stays replay-safe: histories that take its new branches (tests/replay/record_schedule.py)
replay with the current code, and without the patch's marker they no longer fit (the timer
and its status are new commands)."""

from __future__ import annotations

import pytest

from tests.replay import REPLAY_HISTORIES
from tests.replay.replaying import recorded, replay_failure
from workflows.schedule import SCHEDULED_CHANGES

PATCH = "scheduled-changes"
RECORDED = ["waited_then_completed", "rescheduled_then_cancelled"]


def test_every_recorded_history_is_listed() -> None:
    assert sorted(p.stem for p in (REPLAY_HISTORIES / PATCH).glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
async def test_a_scheduled_change_history_replays(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name))
    assert failure is None, f"{name}: {failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_scheduled_change_history_needs_its_patch_marker(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name), unpatched=SCHEDULED_CHANGES)
    assert failure is not None, f"{name} replays without {SCHEDULED_CHANGES}"
