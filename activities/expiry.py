"""Expiring records' activities: start an expiry when its request completes, warn before it, move
it, and at expiry hand a delete to the normal accept path (source `expiry`).

The delete is an ordinary request: its own row and DnsProvisioningWorkflow, the name's turn and
the owner's check; only the approval policy lets it through, since the owner asked for it up front.
Its id is derived from the expiring request and the time, so a retried activity accepts it once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Engine
from temporalio import activity

from activities.pools import ThreadPool
from dnsorch.contracts import (
    ExpiryInput,
    ExpiryNotice,
    ExpiryOutcome,
    InvalidRequest,
    NameOwnedByAnotherAccount,
    RecordConflict,
)
from dnsorch.logging import bind_request_id
from dnsorch.requests import (
    AcceptService,
    CreateDnsRequest,
    DnsResource,
    RecordConfig,
    RequestContext,
)
from dnsorch.settings import Settings
from dnsorch.store import expiries, request_rows
from dnsorch.temporal import ProvisioningGateway

REFUSED = "refused"
_DELETE_NAMESPACE = uuid.UUID("2f7b8c1e-5d0a-4e8b-9c61-0a3f4d2e7b55")


def delete_request_id(request_id: str, expires_at: datetime) -> str:
    """The expiry's delete: one per expiring request and time, however often it is asked for."""
    return str(uuid.uuid5(_DELETE_NAMESPACE, f"{request_id}/{expires_at.isoformat()}"))


class ExpiryActivities:
    """Constructed once per worker; shares the database thread pool of DatabaseActivities."""

    def __init__(
        self, engine: Engine, settings: Settings, gateway: ProvisioningGateway, pool: ThreadPool
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._gateway = gateway
        self._pool = pool
        self._accept = AcceptService(engine, gateway, settings)

    async def start(self, request_id: str, expires_at: datetime) -> None:
        """Called by `finish_request` once a create or update with `expires_at` completed; a retry
        starts nothing more (gateway.start_expiry refuses a duplicate id)."""
        started = await self._gateway.start_expiry(
            ExpiryInput(
                request_id=request_id,
                expires_at=expires_at,
                warning_seconds=self._settings.record_expiry_warning_seconds,
                recheck_seconds=self._settings.record_expiry_recheck_seconds,
            )
        )
        if started:
            activity.logger.info("expiry at %s started", expires_at.isoformat())

    @activity.defn(name="warn_of_expiry")
    async def warn(self, notice: ExpiryNotice) -> ExpiryOutcome:
        """The EXPIRING event (outbox) and timeline line, once per expiry time; nothing when void."""
        bind_request_id(notice.request_id)
        message = (
            f"expires at {notice.expires_at.isoformat()}: a delete request runs then, "
            "unless the owner extends it (POST /api/v2/dns/requests/{id}/expiry)"
        )

        def write() -> ExpiryOutcome:
            with self._engine.begin() as conn:
                return expiries.warn(conn, notice, message)

        outcome = await self._pool.run(write)
        activity.logger.info("expiry warning: %s", outcome.detail or message)
        return outcome

    @activity.defn(name="move_expiry")
    async def move(self, notice: ExpiryNotice) -> None:
        bind_request_id(notice.request_id)
        previous = notice.previous.isoformat() if notice.previous else "none"
        note = f": {notice.note}" if notice.note else ""
        message = f"expiry moved by {notice.actor}{note}: {previous} → {notice.expires_at.isoformat()}"

        def write() -> None:
            with self._engine.begin() as conn:
                expiries.move(conn, notice, message)

        await self._pool.run(write)

    @activity.defn(name="expire_record")
    async def expire(self, notice: ExpiryNotice) -> ExpiryOutcome:
        """At expiry: void (the record was replaced or deleted), busy (another request changes it:
        ask again later), or a delete request accepted through the normal path."""
        bind_request_id(notice.request_id)

        delete_id = delete_request_id(notice.request_id, notice.expires_at)

        def check() -> tuple[bool, ExpiryOutcome | None, expiries.ExpiringRecord | None]:
            with self._engine.connect() as conn:
                return (
                    request_rows.request_exists(conn, delete_id),
                    expiries.obstacle(conn, notice.request_id),
                    expiries.expiring_record(conn, notice.request_id),
                )

        accepted_before, blocked, found = await self._pool.run(check)
        if accepted_before:  # a retry of this activity after its delete was accepted
            return ExpiryOutcome("", "delete request started", delete_id)
        if blocked is not None or found is None:
            outcome = blocked or ExpiryOutcome(expiries.SUPERSEDED, "the request is gone")
            if outcome.kind == expiries.SUPERSEDED:
                await self._note(
                    notice, f"expiry at {notice.expires_at.isoformat()} dropped: {outcome.detail}"
                )
            return outcome
        body = CreateDnsRequest(
            context=RequestContext(account_id=found.account_id),
            resource=DnsResource(
                record_type=found.record_type,
                domain=found.domain,
                target="",
                comment=f"expiry of request {notice.request_id} at {notice.expires_at.isoformat()}",
                # Its plan checks at its turn that the record is still this request's.
                config=RecordConfig(extra_config={expiries.EXPIRY_OF: notice.request_id}),
            ),
        )
        try:
            await self._accept.create(body, source="expiry", request_id=delete_id, operation="delete")
        except (RecordConflict, NameOwnedByAnotherAccount, InvalidRequest) as refused:
            await self._note(notice, f"expiry's delete refused at accept: {refused}")
            return ExpiryOutcome(REFUSED, str(refused))
        await self._note(
            notice,
            f"expired at {notice.expires_at.isoformat()}: delete request {delete_id} started (source expiry)",
        )
        activity.logger.info("expired: delete request %s accepted", delete_id)
        return ExpiryOutcome("", "delete request started", delete_id)

    async def _note(self, notice: ExpiryNotice, message: str) -> None:
        def write() -> None:
            with self._engine.begin() as conn:
                expiries.note(conn, notice, message)

        await self._pool.run(write)
