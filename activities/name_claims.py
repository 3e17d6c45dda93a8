"""One request at a time changes a DNS name, in the order the requests were accepted.

The apply activity waits here for its turn before its change joins a batch. The turn is a row in
PostgreSQL (`name_claims`, see dnsorch/repository/name_claims.py), so it holds across workers,
across the activity's retries and across a worker's crash; the holder's next status releases it
in the same transaction. It replaces the per-name lock workflow, which cost each request an activity, three
signals and the lock workflow's own tasks.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from activities.pools import ThreadPool
from dnsorch.contracts import DnsChange
from dnsorch.repository import name_claims
from dnsorch.store import owners

POLL_SECONDS = 0.2
LEASE_SECONDS = 3600.0
"""A claim older than this is taken over: its holder's workflow was terminated without a status."""


class NameOwned(Exception):
    """The name belongs to another account: the request must not change it."""


class NameClaims:
    def __init__(self, engine: Engine, pool: ThreadPool, *, lease_seconds: float = LEASE_SECONDS) -> None:
        self._engine = engine
        self._pool = pool
        self.lease_seconds = lease_seconds

    async def wait_for_turn(self, change: DnsChange, *, on_wait=None) -> None:  # type: ignore[no-untyped-def]
        """Return once `change`'s request holds its name; `on_wait(holder)` is told who goes first.

        Raises NameOwned when, by its turn, the name belongs to another account (two accounts
        raced to create it, and the other one's create completed first, or an operator moved it),
        unless the change is a restore.
        """
        told: str | None = None
        while True:
            holder, owner = await self._pool.run(self._claim, change)
            if holder == change.request_id:
                # A restore puts back what the request's own plan saw (a rollback, a drift heal):
                # undoing dnsorch's own change is never another account's business.
                if (
                    owner is not None
                    and change.account_id
                    and owner != change.account_id
                    and (change.operation != "restore")
                ):
                    raise NameOwned(
                        f"{change.domain} belongs to another account; only an operator can transfer it"
                    )
                return
            if on_wait is not None and holder != told:
                on_wait(holder)
                told = holder
            await asyncio.sleep(POLL_SECONDS)

    def _claim(self, change: DnsChange) -> tuple[str, str | None]:
        with self._engine.begin() as conn:
            holder = name_claims.claim_name(
                conn,
                change.domain,
                change.request_id,
                self.lease_seconds,
                zone=change.zone,
                account_id=change.account_id or "",
            )
            owner = owners.owner_of(conn, change.domain, change.zone)
            return holder, owner.account_id if owner else None
