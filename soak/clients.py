"""What the soak's clients and operators do that a real one would: retry for a while, and pick an
action for a request that waits for them (soak/driver.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

RETRY_FOR = 60.0
RETRYABLE = {429, 500, 502, 503, 504}
ACTION_STATUS: dict[str, tuple[tuple[str, int], ...]] = {
    "NEEDS_ATTENTION": (("retry", 4), ("rollback", 3), ("resolve", 1), ("fail", 1), ("cancel", 1)),
    "PENDING_APPROVAL": (("approve", 7), ("reject", 2), ("cancel", 1)),
}
"""The actions an operator takes on a request in this status, with their weights."""
T = TypeVar("T")


def chosen_action(status: str, choice: float) -> str:
    """The action `choice` (in [0, 1)) picks among ACTION_STATUS[status], by weight."""
    choices = ACTION_STATUS[status]
    mark = choice * sum(weight for _action, weight in choices)
    for action, weight in choices:
        mark -= weight
        if mark < 0:
            return action
    return choices[-1][0]


async def retrying(once: Callable[[int], Awaitable[tuple[T, bool]]], pause: float = 0.5) -> T:
    """`once(attempt)`, again after `pause` while it asks to go again and RETRY_FOR has not passed:
    the one retry loop of every client here (each attempt records itself)."""
    deadline = time.monotonic() + RETRY_FOR
    attempt = 0
    while True:
        attempt += 1
        result, again = await once(attempt)
        if not again or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(pause)
