"""FREEZE_WINDOWS stays replay-safe: histories that take its new branches (tests/replay/record_freeze.py)
replay with the current code, and without the patch's marker they no longer fit (the freeze check,
the FROZEN status, its timer and the emergency line are new commands)."""

from __future__ import annotations

import pytest

from tests.replay import REPLAY_HISTORIES
from tests.replay.replaying import recorded, replay_failure
from workflows.freeze import FREEZE_WINDOWS

PATCH = "freeze-windows"
RECORDED = [
    "waited_then_completed",
    "let_through",
    "cancelled_while_frozen",
    "ended_early",
    "emergency_passes",
]


def test_every_recorded_history_is_listed() -> None:
    assert sorted(p.stem for p in (REPLAY_HISTORIES / PATCH).glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
async def test_a_freeze_history_replays(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name))
    assert failure is None, f"{name}: {failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_freeze_history_needs_its_patch_marker(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name), unpatched=FREEZE_WINDOWS)
    assert failure is not None, f"{name} replays without {FREEZE_WINDOWS}"
