"""Accepting a request, shared by the API and the Kafka consumer: the rules live here, not in routes.

Accept order (why nothing accepted is lost and nothing starts twice):
1. validate, and give the request its id;
2. check it against the managed records and judge its risk (fails closed: 503 while PostgreSQL is down);
3. in the same transaction, insert the request's row and its queued workflow start (the workflow's
   whole input, dnsorch/store/workflow_starts.py); a row with this id already (a retry with the same
   Idempotency-Key, a Kafka redelivery) is the same request if its body hash matches, else 409
   `idempotency_conflict` (or a dead letter);
4. answer. A request is accepted once step 3 commits: the accepting process then starts the
   workflow `dns-request-<id>` in the background and deletes the entry; if it dies first, or Temporal
   is down, a sweeper starts it later (dnsorch/requests/starting.py). A value PostgreSQL refuses is
   a 4xx, and nothing was stored, so nothing starts.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, OperationalError
from temporalio.api.common.v1 import Payload

from dnsorch.contracts import (
    EXPIRY_SOURCE,
    DnsorchError,
    DnsRequestSpec,
    IdempotencyConflict,
    InvalidRequest,
    NameOwnedByAnotherAccount,
    ProvisioningInput,
    RecordConflict,
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
from dnsorch.requests.starting import WorkflowStarter
from dnsorch.requests.validation import (
    build_spec,
    check_expires_at,
    check_not_before,
    check_ttl_dance,
    request_hash,
)
from dnsorch.requests.workflow_input import expiry_verdict, workflow_input
from dnsorch.settings import Settings
from dnsorch.store import DnsRecord, DnsRequest, read_zone_facts, request_rows, workflow_starts
from dnsorch.temporal import ProvisioningGateway

log = logging.getLogger(__name__)


@dataclass
class Accepted:
    request_id: str
    workflow_id: str
    status: RequestStatus
    created: bool = True
    """False when a request with this id was accepted before (a redelivery or a retry)."""
    spec: DnsRequestSpec | None = None
    """What was accepted, when this call accepted it (None when an earlier call did)."""
    stored: bool = False
    """This call wrote the request's row, exactly as `request_values(spec)` says."""


@dataclass
class CreateCall:
    """One create for `prepare_many`: what `create` takes from a Kafka message."""

    body: CreateDnsRequest
    request_id: str
    message_key: str | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    emergency: bool = False


_REFUSALS = (InvalidRequest, IdempotencyConflict, NameOwnedByAnotherAccount, RecordConflict)
"""What `prepare_many` answers per request: the request can never be accepted as it is."""

Door = Literal["api", "kafka", "expiry"]
"""Who hands a request to this service, and so its `source`: `expiry` is an expiring record's
delete (activities/expiry.py). Drift, adoption and the PTR children build their requests
themselves, with their own sources (`drift`, `adoption`, `ptr`)."""

_IDEMPOTENCY_NAMESPACE = uuid.UUID("8d0f6a3e-41f4-4c55-9a43-2b1d6f0c7e19")


def idempotency_request_id(account_id: str, key: str) -> str:
    """Keys are scoped per account: two teams may use the same key for different requests."""
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{account_id}\x00{key}"))


class AcceptService:
    def __init__(
        self,
        engine: Engine,
        gateway: ProvisioningGateway,
        settings: Settings,
        starter: WorkflowStarter | None = None,
    ) -> None:
        self.engine = engine
        self.gateway = gateway
        self.settings = settings
        self.starter = starter or WorkflowStarter(engine, gateway, settings)
        self._reverse_zones = [zone for zone in settings.dns_zones if is_reverse_zone(zone)]

    async def create(
        self,
        body: CreateDnsRequest,
        *,
        source: Door,
        request_id: str | None = None,
        message_key: str | None = None,
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
        given_id = request_id is not None
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
        try:
            params, payload, stored = await self._check_and_store(spec, source)
        except (NameOwnedByAnotherAccount, RecordConflict):
            # A redelivered message whose request went on to change the name (it completed) is
            # that request, not a second one the rules refuse.
            existing = await self._existing(request_id, fingerprint) if given_id else None
            if existing is None:
                raise
            return existing
        if not stored:
            existing = await self._existing(request_id, fingerprint)
            if existing is None:  # the row vanished between the insert and this read
                raise ServiceUnavailable.postgresql()
            return existing
        log.info(
            "accepted %s %s %s -> %s from %s",
            operation,
            spec.record_type,
            spec.domain,
            spec.target,
            spec.source,
        )
        self.starter.start_soon(params, payload)
        return Accepted(request_id, spec.workflow_id, RequestStatus.PENDING, True, spec, stored=True)

    async def prepare_many(
        self, calls: list[CreateCall], source: Door
    ) -> list[Accepted | ProvisioningInput | DnsorchError]:
        """Steps 1-2 of `create` for several requests, their reads on one connection in one thread
        (the Kafka consumer's group commit, then `store_many` and `finish`). Per request: the
        workflow input to store, the request accepted before under its id, or why it is refused.
        ServiceUnavailable, for all of them, while PostgreSQL cannot answer."""
        outcomes: dict[int, Accepted | ProvisioningInput | DnsorchError] = {}
        specs: dict[int, DnsRequestSpec] = {}
        last_at: datetime | None = None
        now = datetime.now(UTC)
        for i, call in enumerate(calls):
            fingerprint = request_hash(call.body, "create")
            try:
                if call.not_before is not None or call.expires_at is not None:
                    existing = await self._existing(call.request_id, fingerprint)  # as in `create`
                    if existing is not None:
                        outcomes[i] = existing
                        continue
                spec = build_spec(call.body, self.settings.dns_zones, call.request_id, source, "create")
                spec.message_key, spec.request_hash = call.message_key, fingerprint
                spec.not_before = check_not_before(call.not_before, now)
                spec.expires_at = check_expires_at(call.expires_at, now, "create")
                spec.emergency = call.emergency
                rules.check_protected(spec)
            except _REFUSALS as refused:
                outcomes[i] = refused
                continue
            if last_at is not None and spec.accepted_at is not None and spec.accepted_at <= last_at:
                spec.accepted_at = last_at + timedelta(microseconds=1)  # accept order is offset order
            last_at, specs[i] = spec.accepted_at, spec

        def read() -> dict[int, tuple[rules.ManagedState, ZoneFacts]]:
            with self.engine.connect() as conn:
                return {
                    i: (rules.read_state(conn, spec, self._reverse_zones), read_zone_facts(conn, spec))
                    for i, spec in specs.items()
                }

        try:
            read_back = await asyncio.to_thread(read) if specs else {}
        except OperationalError as error:
            raise ServiceUnavailable.postgresql() from error
        for i, spec in specs.items():
            state, facts = read_back[i]
            try:
                rules.check(spec, state)
            except (NameOwnedByAnotherAccount, RecordConflict) as refused:
                # A redelivery whose request went on to change the name is that request.
                try:
                    outcomes[i] = await self._existing(spec.request_id, spec.request_hash or "") or refused
                except IdempotencyConflict as conflict:
                    outcomes[i] = conflict
                continue
            held = (
                expiry_verdict() if source == EXPIRY_SOURCE else approval.verdict(spec, self.settings, facts)
            )
            outcomes[i] = workflow_input(spec, held, self.settings, self._reverse_zones)
        return [outcomes[i] for i in range(len(calls))]

    async def store_many(self, batch: list[ProvisioningInput]) -> list[Payload | None]:
        """Step 3 for requests `prepare_many` prepared, all in ONE transaction: per request, its
        encoded input when it wrote its row (an id given twice is written for its first), else None.
        InvalidRequest when PostgreSQL refuses a value: then nothing of the batch is stored (store
        each alone to learn which one it was)."""
        grace = timedelta(seconds=self.settings.outbox_start_grace_seconds)
        encoded = [(params, workflow_starts.encode(params)) for params in batch]

        def insert() -> set[str]:
            with self.engine.begin() as conn:
                return workflow_starts.insert_accepted_many(conn, encoded, grace, self.gateway.task_queue)

        try:
            created = await asyncio.to_thread(insert)
        except (DataError, UnicodeEncodeError) as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise InvalidRequest("request", f"cannot be stored: {reason}") from error
        except OperationalError as error:
            raise ServiceUnavailable.postgresql() from error
        stored: list[Payload | None] = []
        for params, payload in encoded:
            stored.append(payload if params.request.request_id in created else None)
            created.discard(params.request.request_id)  # a second copy was not written
        return stored

    async def finish(self, params: ProvisioningInput, payload: Payload | None) -> Accepted:
        """Step 4 after `store_many`: a request it stored (its `payload`) starts in the background;
        one it did not (its id was taken) is the request accepted before, or IdempotencyConflict."""
        spec = params.request
        if payload is None:
            existing = await self._existing(spec.request_id, spec.request_hash or "")
            if existing is None:  # the row vanished between the insert and this read
                raise ServiceUnavailable.postgresql()
            return existing
        bind_request_id(spec.request_id)
        log.info(
            "accepted create %s %s -> %s from %s", spec.record_type, spec.domain, spec.target, spec.source
        )
        self.starter.start_soon(params, payload)
        return Accepted(spec.request_id, spec.workflow_id, RequestStatus.PENDING, True, spec, stored=True)

    async def read_accepted(self, accepted: Accepted) -> tuple[DnsRequest, DnsRecord | None]:
        """The request just accepted, as stored. A row this call wrote is answered as written,
        without reading it back; an earlier call's is read (it may have moved on since)."""
        if accepted.stored and accepted.spec is not None and accepted.spec.accepted_at is not None:
            return DnsRequest(**request_rows.request_values(accepted.spec, accepted.spec.accepted_at)), None
        return await read_request(self.engine, uuid.UUID(accepted.request_id))

    async def _check_and_store(
        self, spec: DnsRequestSpec, source: Door
    ) -> tuple[ProvisioningInput, Payload, bool]:
        """Steps 2 and 3, in one transaction on one thread: the workflow's input, encoded once (the
        row stores it, the start sends it), and whether this call stored it (False: the row existed).

        Refuses at once what the managed records already rule out (dnsorch/requests/rules.py), and
        judges the risk with what the approval policy needs to know about the zone
        (dnsorch/requests/approval.py). Fails closed: with PostgreSQL down nothing here can be read
        (the name's owner, its conflicts, the zone's risk facts), and a request accepted unchecked
        could skip the approval its risk needs; the caller gets 503 (the consumer holds the message
        back) and retries. PostgreSQL refusing a value validation let through refuses the request
        (nothing is stored).
        """
        rules.check_protected(spec)
        grace = timedelta(seconds=self.settings.outbox_start_grace_seconds)

        def check_and_store() -> tuple[ProvisioningInput, Payload, bool]:
            with self.engine.begin() as conn:
                state, facts = rules.read_state(conn, spec, self._reverse_zones), read_zone_facts(conn, spec)
                rules.check(spec, state)
                held = (
                    expiry_verdict()
                    if source == EXPIRY_SOURCE
                    else approval.verdict(spec, self.settings, facts)
                )
                params = workflow_input(spec, held, self.settings, self._reverse_zones)
                payload = workflow_starts.encode(params)
                try:
                    stored = workflow_starts.insert_accepted(
                        conn, params, payload, grace, self.gateway.task_queue
                    )
                except (DataError, UnicodeEncodeError) as error:
                    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
                    log.warning("request %s refused by PostgreSQL: %s", spec.request_id, reason)
                    raise InvalidRequest("request", f"cannot be stored: {reason}") from error
                return params, payload, stored

        try:
            return await asyncio.to_thread(check_and_store)
        except OperationalError as error:
            raise ServiceUnavailable.postgresql() from error

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
