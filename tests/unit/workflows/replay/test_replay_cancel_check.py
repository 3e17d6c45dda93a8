"""CANCEL_ASKS_DNS stays replay-safe: histories that take its new branches (tests/replay/record_cancel.py)
replay with the current code, and without the patch's marker they no longer fit (the plan that asks
the primary and the restore are new commands)."""

from __future__ import annotations

import pytest

from tests.replay import REPLAY_HISTORIES
from tests.replay.replaying import recorded, replay_failure
from workflows.cancel_check import CANCEL_ASKS_DNS, FAIL_ASKS_DNS

PATCH = "cancel-asks-dns"
RECORDED = ["cancel_in_flight_restores", "cancel_unanswered_then_restores", "fail_in_flight_restores"]


def test_every_recorded_history_is_listed() -> None:
    assert sorted(p.stem for p in (REPLAY_HISTORIES / PATCH).glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
async def test_a_cancel_that_asks_dns_history_replays(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name))
    assert failure is None, f"{name}: {failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_cancel_that_asks_dns_history_needs_its_patch_marker(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name), unpatched=CANCEL_ASKS_DNS)
    assert failure is not None, f"{name} replays without {CANCEL_ASKS_DNS}"


async def test_a_fail_that_asks_dns_history_needs_its_own_patch_marker() -> None:
    failure = await replay_failure(recorded(PATCH, "fail_in_flight_restores"), unpatched=FAIL_ASKS_DNS)
    assert failure is not None, f"fail_in_flight_restores replays without {FAIL_ASKS_DNS}"
