"""ONE_MARKER stays replay-safe: histories recorded since it (tests/replay/record_one_marker.py) carry
its one patch marker and replay with the current code; without it they no longer fit (every patch
under it would answer False, down the old branches). The histories recorded before it, with a
marker per patch, replay too (the other replay tests)."""

from __future__ import annotations

import pytest

from tests.replay import REPLAY_HISTORIES
from tests.replay.replaying import recorded, replay_failure
from workflows.patches import ONE_MARKER

PATCH = "one-marker"
RECORDED = [
    "completed_with_its_ptr",
    "frozen_then_completed",
    "dangling_target_approved",
    "dry_run",
    "resolve_refused_then_fixed",
    "cancel_in_flight_restores",
    "fail_in_flight_restores",
    "dance_completed",
]


def test_every_recorded_history_is_listed() -> None:
    assert sorted(p.stem for p in (REPLAY_HISTORIES / PATCH).glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
def test_a_history_since_one_marker_records_that_marker_alone(name: str) -> None:
    history = recorded(PATCH, name)
    patches = [
        e.marker_recorded_event_attributes
        for e in history.events
        if e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    assert len(patches) == 1, f"{name}: {len(patches)} patch markers"
    assert ONE_MARKER.encode() in patches[0].details["patch-data"].payloads[0].data


@pytest.mark.parametrize("name", RECORDED)
async def test_a_one_marker_history_replays(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name))
    assert failure is None, f"{name}: {failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_one_marker_history_needs_its_marker(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name), unpatched=ONE_MARKER)
    assert failure is not None, f"{name} replays without {ONE_MARKER}"
