"""SERVED_STANDS_ASKS_DNS stays replay-safe: histories that take its new branch
(tests/replay/record_served_asks.py) replay with the current code, and without the patch's marker
they no longer fit (the plan that asks the primary is a new command)."""

from __future__ import annotations

import pytest

from tests.replay import REPLAY_HISTORIES
from tests.replay.replaying import recorded, replay_failure
from workflows.patches import SERVED_STANDS_ASKS_DNS

PATCH = "served-stands-asks-dns"
RECORDED = ["still_served_completed", "replaced_since_rejected"]


def test_every_recorded_history_is_listed() -> None:
    assert sorted(p.stem for p in (REPLAY_HISTORIES / PATCH).glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
async def test_a_served_stands_asks_dns_history_replays(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name))
    assert failure is None, f"{name}: {failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_served_stands_asks_dns_history_needs_its_patch_marker(name: str) -> None:
    failure = await replay_failure(recorded(PATCH, name), unpatched=SERVED_STANDS_ASKS_DNS)
    assert failure is not None, f"{name} replays without {SERVED_STANDS_ASKS_DNS}"
