"""Heartbeats around long waits in an activity, so Temporal can deliver a cancellation to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from temporalio import activity

T = TypeVar("T")


async def heartbeating(every: float, work: Awaitable[T]) -> T:
    """Await `work` while heartbeating, so Temporal can deliver a cancellation to us.

    On cancellation `work` is cancelled and still awaited until it has ended (a change whose
    batch runs waits for the run: see ZoneBatcher.submit). The cancellation is then re-raised,
    unless `work` finished all the same (its change was applied): then its result is returned.
    """
    task = asyncio.ensure_future(work)
    started = time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                return task.result()
            activity.heartbeat({"elapsed_seconds": round(time.monotonic() - started)})
    except asyncio.CancelledError:
        task.cancel()
        while not task.done():
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:
                continue  # a second cancel changes nothing: the work is stopping
        if not task.cancelled() and task.exception() is None:
            activity.logger.info("cancel came too late: the change was applied; reporting it")
            return task.result()
        activity.logger.info("cancelled after %.1fs", time.monotonic() - started)
        raise
