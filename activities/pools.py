"""Thread pools of their own for the activities' blocking work.

`asyncio.to_thread` shares the loop's default pool (min(32, CPUs + 4) threads: 6 on a 2-core
machine) between every activity. Under load the playbooks, seconds each, held all of it, and the
database writes queued behind them until their own timeouts fired (seen with 200 requests at once).
Each activity class now has a pool as large as the worker's activity slots, so no activity ever
waits for a thread once Temporal has started it: waiting happens before the start, in Temporal's
queue, where no timeout is running.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class ThreadPool:
    def __init__(self, name: str, size: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` on one of the pool's threads, with the caller's context (its log fields)."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(context.run, fn, *args))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
