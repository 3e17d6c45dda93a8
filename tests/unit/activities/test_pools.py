"""Activity thread pools: the caller's context travels; one pool's work cannot starve another's."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from activities.pools import ThreadPool

REQUEST = contextvars.ContextVar("request", default="-")


async def test_work_runs_with_the_callers_context() -> None:
    pool = ThreadPool("t", 2)
    REQUEST.set("req-42")
    try:
        assert await pool.run(REQUEST.get) == "req-42"
    finally:
        pool.shutdown()


async def test_a_full_pool_does_not_delay_work_on_another_pool() -> None:
    slow, fast = ThreadPool("slow", 2), ThreadPool("fast", 2)
    release = threading.Event()
    try:
        blocked = [asyncio.ensure_future(slow.run(release.wait, 10)) for _ in range(4)]
        assert await asyncio.wait_for(fast.run(lambda: "written"), timeout=2) == "written"
        assert not any(task.done() for task in blocked)
        release.set()
        assert await asyncio.gather(*blocked) == [True] * 4
    finally:
        release.set()
        slow.shutdown()
        fast.shutdown()
