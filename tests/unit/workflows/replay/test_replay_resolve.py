"""RESOLVE_ASKS_DNS stays replay-safe: histories that take its new branches (tests/replay/record_resolve.py)
replay with the current code, and without the patch's marker they no longer fit (the plan that asks
the primary is a new command)."""

from __future__ import annotations

import pytest

from tests.replay import REPLAY_HISTORIES
from tests.replay.replaying import recorded, replay_failure
from workflows.resolve_check import RESOLVE_ASKS_DNS

PATCH = "resolve-asks-dns"
RECORDED = ["refused_unanswered_then_fixed", "in_flight_never_sent"]


def test_every_recorded_history_is_listed() -> None:
    assert sorted(p.stem for p in (REPLAY_HISTORIES / PATCH).glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
async def test_a_resolve_that_asks_dns_history_replays(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name))
    assert failure is None, f"{name}: {failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_resolve_that_asks_dns_history_needs_its_patch_marker(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name), unpatched=RESOLVE_ASKS_DNS)
    assert failure is not None, f"{name} replays without {RESOLVE_ASKS_DNS}"
