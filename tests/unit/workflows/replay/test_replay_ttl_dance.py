"""The TTL dance stays replay-safe (TTL_DANCE): its recorded histories (tests/replay/record_ttl_dance.py)
replay with the current code, and without the patch's marker they no longer fit (the lowering apply
is a command of its own)."""

from __future__ import annotations

import pytest

from tests.replay import REPLAY_HISTORIES
from tests.replay.replaying import recorded, replay_failure
from workflows.ttl_dance import TTL_DANCE

PATCH = TTL_DANCE
RECORDED = ["dance_completed", "dance_cancelled_during_the_wait", "dance_unasked_over_the_threshold"]


def test_every_recorded_history_is_listed() -> None:
    assert sorted(p.stem for p in (REPLAY_HISTORIES / PATCH).glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
async def test_a_history_of_the_dance_replays(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name))
    assert failure is None, f"{name}: {failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_history_of_the_dance_needs_its_marker(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name), unpatched=TTL_DANCE)
    assert failure is not None, f"{name} replays without {TTL_DANCE}"
