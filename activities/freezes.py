"""Freeze windows' activity: the workflow asks, just before its first plan, whether its zone is
frozen now (a local activity: one read, inside the workflow task that asks)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio import activity

from activities.pools import ThreadPool
from dnsorch.contracts import Freeze
from dnsorch.store import freezes


class FreezeActivities:
    """Constructed once per worker; shares the database thread pool of DatabaseActivities."""

    def __init__(self, engine: Engine, pool: ThreadPool) -> None:
        self._engine = engine
        self._pool = pool

    @activity.defn(name="freeze_at")
    async def freeze_at(self, zone: str) -> Freeze | None:
        """The window that freezes `zone` now (the one ending last), or None."""
        return await self._pool.run(freezes.freeze_at, self._engine, zone, datetime.now(UTC))
