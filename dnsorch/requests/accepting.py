"""Accepting a request, shared by the API and the Kafka consumer: the rules live here, not in routes.

Accept order (why nothing accepted is lost and nothing starts twice):
1. validate, and give the request its id;
2. start the workflow with id `dns-request-<id>` and the whole validated request as input
   (a second start with the same id is refused by Temporal and treated as success);
3. insert the row (`ON CONFLICT DO NOTHING`) from the body the workflow holds: this call's if it
   started the workflow; if the workflow existed already, the body in its start event, and a
   different body under the same id is refused (409 `idempotency_conflict`, or a dead letter).
A request is accepted once step 2 succeeds: if the process dies before step 3, or PostgreSQL
is down then, the workflow's first activity inserts the same row from its input. If step 2
fails, nothing was stored and the caller gets 503, so a retry cannot leave a twin behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NoReturn

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, OperationalError

from dnsorch.contracts import (
    EXPIRY_SOURCE,
    DnsRequestSpec,
    IdempotencyConflict,
    InvalidRequest,
    RequestNotFound,
    RequestStatus,
    ServiceUnavailable,
    ZoneFacts,
    workflow_id_for,
)
from dnsorch.dns import is_reverse_zone
from dnsorch.logging import bind_request_id
from dnsorch.requests import approval, rules
from dnsorch.requests.operating import read_request
from dnsorch.requests.schemas import CreateDnsRequest
from dnsorch.requests.validation import (
    build_spec,
    check_expires_at,
    check_not_before,
    check_ttl_dance,
    request_hash,
)
from dnsorch.requests.workflow_input import expiry_verdict, workflow_input
from dnsorch.settings import Settings
from dnsorch.store import DnsRecord, DnsRequest, read_zone_facts, request_rows
from dnsorch.temporal import ProvisioningGateway, WorkflowNotFound

log = logging.getLogger(__name__)


@dataclass
class Accepted:
    request_id: str
    workflow_id: str
    status: RequestStatus
    created: bool = True
    """False when a workflow with this request id already existed (a redelivery or a retry)."""
    spec: DnsRequestSpec | None = None
    """What was accepted, when this call accepted it (None when an earlier call did)."""
    stored: bool = False
    """This call wrote the request's row, exactly as `request_values(spec)` says."""


Door = Literal["api", "kafka", "expiry"]
"""Who hands a request to this service, and so its `source`: `expiry` is an expiring record's
delete (activities/expiry.py). Drift, adoption and the PTR children build their requests
themselves, with their own sources (`drift`, `adoption`, `ptr`)."""

_IDEMPOTENCY_NAMESPACE = uuid.UUID("8d0f6a3e-41f4-4c55-9a43-2b1d6f0c7e19")


def idempotency_request_id(account_id: str, key: str) -> str:
    """Keys are scoped per account: two teams may use the same key for different requests."""
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{account_id}\x00{key}"))


class AcceptService:
    def __init__(self, engine: Engine, gateway: ProvisioningGateway, settings: Settings) -> None:
        self.engine = engine
        self.gateway = gateway
        self.settings = settings
        self._reverse_zones = [zone for zone in settings.dns_zones if is_reverse_zone(zone)]

    async def create(
        self,
        body: CreateDnsRequest,
        *,
        source: Door,
        request_id: str | None = None,
        message_key: str | None = None,
        require_row: bool = False,
        operation: str = "create",
        idempotency_key: str | None = None,
        dry_run: bool = False,
        not_before: datetime | None = None,
        submitted_by: str | None = None,
        expires_at: datetime | None = None,
        emergency: bool = False,
        ttl_dance: bool = False,
    ) -> Accepted:
        """Accept a request (see the module docstring for the order).

        `source`: the door the request came through; every caller names its own. The body's
        `context.source`, which v1's contract keeps, decides nothing: else a client could pass its
        request off as drift detection's.
        `require_row`: raise ServiceUnavailable unless the row is written too, for callers (the
        Kafka consumer) that would rather hold back than move on while PostgreSQL is down.
        `idempotency_key`: the request id derives from (account, key), so a retry with the same
        key maps to the same request; the same key with another body is IdempotencyConflict.
        """
        fingerprint = request_hash(body, operation)
        if idempotency_key is not None:
            request_id = idempotency_request_id(body.context.account_id, idempotency_key)
            existing = await self._existing(request_id, fingerprint)
            if existing is not None:
                return existing
        elif request_id is not None and (not_before is not None or expires_at is not None):
            # A redelivered scheduled (or expiring) message may come after its time: it is the
            # request it made.
            existing = await self._existing(request_id, fingerprint)
            if existing is not None:
                return existing
        request_id = request_id or str(uuid.uuid4())
        bind_request_id(request_id)
        spec = build_spec(body, self.settings.dns_zones, request_id, source, operation)
        spec.message_key, spec.idempotency_key, spec.request_hash = message_key, idempotency_key, fingerprint
        spec.dry_run = dry_run
        spec.not_before = check_not_before(not_before, datetime.now(UTC))
        spec.submitted_by = submitted_by
        spec.expires_at = check_expires_at(expires_at, datetime.now(UTC), operation)
        spec.emergency = emergency  # passes freeze windows; a risk the approval policy always counts
        spec.ttl_dance = check_ttl_dance(ttl_dance, operation)
        facts = await self._check_against_managed(spec)
        held = expiry_verdict() if source == EXPIRY_SOURCE else approval.verdict(spec, self.settings, facts)
        created = await self.gateway.start(workflow_input(spec, held, self.settings, self._reverse_zones))
        stored = False
        if created:
            stored = await self._write_row(spec, created=True, require_row=require_row)
            log.info(
                "accepted %s %s %s -> %s from %s",
                operation,
                spec.record_type,
                spec.domain,
                spec.target,
                spec.source,
            )
        else:
            await self._check_started_elsewhere(spec, fingerprint, require_row)
        return Accepted(request_id, spec.workflow_id, RequestStatus.PENDING, created, spec, stored)

    async def read_accepted(self, accepted: Accepted) -> tuple[DnsRequest, DnsRecord | None]:
        """The request just accepted, as stored; if PostgreSQL went away since, as accepted (its
        workflow holds it and writes the row): an accepted request must never answer as a failure,
        or its client would retry without a key and provision the name twice. A row this call wrote
        is answered as written, without reading it back."""
        if accepted.stored and accepted.spec is not None and accepted.spec.accepted_at is not None:
            return DnsRequest(**request_rows.request_values(accepted.spec, accepted.spec.accepted_at)), None
        try:
            return await read_request(self.engine, uuid.UUID(accepted.request_id))
        except (ServiceUnavailable, RequestNotFound):
            if accepted.spec is None or accepted.spec.accepted_at is None:
                raise
            log.warning(
                "request %s accepted but not readable back; answering from what was accepted",
                accepted.request_id,
            )
            return DnsRequest(**request_rows.request_values(accepted.spec, accepted.spec.accepted_at)), None

    async def _check_against_managed(self, spec: DnsRequestSpec) -> ZoneFacts:
        """Refuse at once what the managed records already rule out (dnsorch/requests/rules.py); answer
        what the approval policy needs to know about the zone (dnsorch/requests/approval.py).

        Fails closed: with PostgreSQL down nothing here can be read (the name's owner, its
        conflicts, the zone's risk facts), and a request accepted unchecked could skip the approval
        its risk needs; the caller gets 503 (the consumer holds the message back) and retries.
        """

        rules.check_protected(spec)

        def read() -> tuple[rules.ManagedState, ZoneFacts]:
            with self.engine.connect() as conn:
                return rules.read_state(conn, spec, self._reverse_zones), read_zone_facts(conn, spec)

        try:
            state, facts = await asyncio.to_thread(read)
        except OperationalError as error:
            raise ServiceUnavailable.postgresql() from error
        rules.check(spec, state)
        return facts

    async def _existing(self, request_id: str, fingerprint: str) -> Accepted | None:
        """The request already accepted under this id, if its body matches; else IdempotencyConflict."""
        try:
            request, _record = await read_request(self.engine, uuid.UUID(request_id))
        except RequestNotFound:
            return None
        if request.request_hash != fingerprint:
            raise IdempotencyConflict(request_id)
        return Accepted(
            request_id,
            request.workflow_id or workflow_id_for(request_id),
            RequestStatus(request.status),
            created=False,
        )

    async def _check_started_elsewhere(
        self, spec: DnsRequestSpec, fingerprint: str, require_row: bool
    ) -> None:
        """The workflow existed already: answer from what it holds, never from this call's body.

        The same body (a retry, a redelivery) is the same request; another body under the same
        Idempotency-Key or Kafka request id is IdempotencyConflict. A workflow that was terminated
        because PostgreSQL refused its row was never accepted: refused again, as the first time.
        """
        if await self._existing(spec.request_id, fingerprint) is not None:
            return
        try:
            started = await self.gateway.started(spec.workflow_id)
        except WorkflowNotFound as gone:
            raise ServiceUnavailable.temporal(gone) from gone
        if started.params.request.request_hash != fingerprint:
            raise IdempotencyConflict(spec.request_id)
        if started.terminated:
            raise InvalidRequest("request", "cannot be stored: it was refused before; send a corrected one")
        # The starter has not written the row yet (or died): write it from the workflow's own input.
        await self._write_row(started.params.request, created=False, require_row=require_row)

    async def _write_row(self, spec: DnsRequestSpec, *, created: bool, require_row: bool) -> bool:
        """Insert the request's row from `spec`, which must be what its workflow holds: the row
        says what the workflow provisions, never another caller's body. True when this call wrote
        it (False: the workflow wrote it first, or PostgreSQL is away)."""
        try:
            return bool(await asyncio.to_thread(self._insert_row, spec))
        except (DataError, UnicodeEncodeError) as error:
            await self._abandon(spec, created, error)
        except OperationalError as error:
            if require_row:
                raise ServiceUnavailable.postgresql() from error
            # The workflow holds the request and will write the row itself once PostgreSQL is back.
            log.warning("PostgreSQL unavailable; the workflow will create the row", exc_info=True)
        return False

    def _insert_row(self, spec: DnsRequestSpec) -> bool:
        assert spec.accepted_at is not None
        with self.engine.begin() as conn:
            return request_rows.insert_request(conn, spec, spec.accepted_at)

    async def _abandon(self, spec: DnsRequestSpec, created: bool, error: Exception) -> NoReturn:
        """PostgreSQL refused a value validation let through: the request was never accepted, so the
        workflow just started must not go on (its first activity would fail the same way)."""
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        if created:
            # Ended already (its row insert failed non-retryably) or Temporal is away: nothing to stop.
            with contextlib.suppress(WorkflowNotFound, ServiceUnavailable):
                await self.gateway.terminate(
                    spec.workflow_id, "request could not be stored; it was never accepted"
                )
        log.warning("request %s refused by PostgreSQL: %s", spec.request_id, reason)
        raise InvalidRequest("request", f"cannot be stored: {reason}") from error
