"""One request at a time changes a DNS name, in the order the requests were accepted.

The workflow takes its turn before it reads DNS for its drift check and its plan
(`NameTurnActivities`: one claim in a local activity, and, only when another request goes first,
a heartbeating activity that waits, apart from the apply's timeout and retries). The apply
activity asks again before its change joins a batch, which for a request holding the name is one
query, and which is the whole wait for workflows started before the turn came first. The turn is a row in
PostgreSQL (`name_claims`, see dnsorch/store/name_claims.py), so it holds across workers,
across the activity's retries and across a worker's crash; the holder's next status releases it
in the same transaction. It replaces the per-name lock workflow, which cost each request an activity, three
signals and the lock workflow's own tasks.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Connection, Engine, bindparam, select
from sqlmodel import col
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeats import heartbeating
from activities.pools import ThreadPool
from dnsorch.contracts import NAME_OWNED_BY_ANOTHER_ACCOUNT, REQUEST_ENDED, TERMINAL_STATUSES, DnsChange
from dnsorch.store import DnsRequest, name_claims, owners

POLL_SECONDS = 0.2
LEASE_SECONDS = 3600.0
"""A claim older than this is taken over: its holder's workflow was terminated without a status."""


NAME_OWNED = NAME_OWNED_BY_ANOTHER_ACCOUNT
_STATUS = select(col(DnsRequest.status)).where(col(DnsRequest.id) == bindparam("request_id"))
"""The request's status, asked before each turn (built once: building it cost more than running it)."""


class NameOwned(Exception):
    """The name belongs to another account: the request must not change it."""


class RequestEnded(Exception):
    """The request already has a final status: it must not take a name any more (a wait that
    outlived its workflow)."""


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
        while (holder := await self.try_turn(change)) is not None:
            if on_wait is not None and holder != told:
                on_wait(holder)
                told = holder
            await asyncio.sleep(POLL_SECONDS)

    async def wait_for_turns(self, changes: list[DnsChange], *, on_wait=None) -> None:  # type: ignore[no-untyped-def]
        """`wait_for_turn` for each change in order (one request's: a change and its PTRs). When the
        request holds every name already (the workflow took the turns), that is one transaction."""
        if await self._pool.run(self._holds_all, changes):
            return
        for change in changes:
            await self.wait_for_turn(change, on_wait=on_wait)

    def _holds_all(self, changes: list[DnsChange]) -> bool:
        """Renew every name the request holds, with `_claim`'s status check; True if it holds all.
        Taking a name stays `_claim`'s, one name per transaction."""
        request_id = changes[0].request_id
        domains = [change.domain for change in changes]
        with self._engine.begin() as conn:
            self._check_not_ended(conn, request_id)
            return name_claims.renew_all(conn, domains, request_id, self.lease_seconds) == set(domains)

    async def try_turn(self, change: DnsChange) -> str | None:
        """Take the name if it is `change`'s turn (None), else return the request that goes first."""
        holder, owner = await self._pool.run(self._claim, change)
        if holder != change.request_id:
            return holder
        # A restore puts back what the request's own plan saw (a rollback, a drift heal):
        # undoing dnsorch's own change is never another account's business.
        if (
            owner is not None
            and change.account_id
            and owner != change.account_id
            and change.operation != "restore"
        ):
            raise NameOwned(f"{change.domain} belongs to another account; only an operator can transfer it")
        return None

    def _claim(self, change: DnsChange) -> tuple[str, str | None]:
        """(who may go now, the name's owner); the owner is None when the request already held the
        name: ownership is judged when the turn is taken (an operator's grant made while a change
        applies does not refuse that change's retry, whose first attempt may have reached DNS)."""
        with self._engine.begin() as conn:
            self._check_not_ended(conn, change.request_id)
            if name_claims.renew(conn, change.domain, change.request_id, self.lease_seconds):
                return change.request_id, None
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

    @staticmethod
    def _check_not_ended(conn: Connection, request_id: str) -> None:
        status = conn.execute(_STATUS, {"request_id": request_id}).scalar_one_or_none()
        if status in TERMINAL_STATUSES:
            raise RequestEnded(f"request {request_id} already ended {status}")


class NameTurnActivities:
    """The workflow's turn on a name: `take_name_turn` (a local activity) claims it when it is
    free; `wait_for_name_turn` waits for it, heartbeating, for as long as the requests before it
    take (the workflow serves operator actions meanwhile, and a cancel stops the wait)."""

    def __init__(self, claims: NameClaims, *, heartbeat_every: float = 5.0) -> None:
        self._claims = claims
        self._heartbeat_every = heartbeat_every

    @activity.defn(name="take_name_turn")
    async def take_name_turn(self, change: DnsChange) -> str:
        """The request that goes first, or "" when `change`'s request now holds the name."""
        try:
            return await self._claims.try_turn(change) or ""
        except (NameOwned, RequestEnded) as refused:
            raise refused_error(refused) from None

    @activity.defn(name="wait_for_name_turn")
    async def wait_for_name_turn(self, change: DnsChange) -> None:
        try:
            await heartbeating(
                self._heartbeat_every, self._claims.wait_for_turn(change, on_wait=log_waiting_for)
            )
        except (NameOwned, RequestEnded) as refused:
            raise refused_error(refused) from None


def refused_error(refused: NameOwned | RequestEnded) -> ApplicationError:
    kind = NAME_OWNED if isinstance(refused, NameOwned) else REQUEST_ENDED
    return ApplicationError(str(refused), type=kind, non_retryable=True)


def log_waiting_for(holder: str) -> None:
    activity.logger.info("waiting for request %s, which changes the same name first", holder)
