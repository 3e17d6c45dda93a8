"""Expiring records against a real PostgreSQL (issue 26): the column migration 0008 adds, the expiry a
completed create starts, the warning as an outbox row (EXPIRING, the next sequence number, once),
the rule that a record replaced since is never deleted, and the expiry's delete accepted through the
normal path (source `expiry`, no approval). Temporal is a stub that keeps what it was asked to start."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, inspect, select
from sqlmodel import Session, col
from temporalio.testing import ActivityEnvironment

from activities.database import DatabaseActivities
from activities.expiry import ExpiryActivities, delete_request_id
from activities.pools import ThreadPool
from devstack.postgres import LocalPostgres
from dnsorch import migrate
from dnsorch.contracts import (
    DnsRequestSpec,
    ExpiryNotice,
    FinishRequest,
    LogStep,
    RecordRow,
)
from dnsorch.settings import Settings
from dnsorch.store import DnsRequest, RequestEvent, request_rows
from tests.fixtures.kept_starts import KeptStarts
from tests.fixtures.specs import ZONE, request_spec

pytestmark = pytest.mark.integration


def expiry_activities(engine: Engine, gateway: KeptStarts | None = None) -> ExpiryActivities:
    settings = Settings(dns_zones=[ZONE], approval_risks=["delete"])  # a delete is risky: it waits
    return ExpiryActivities(engine, settings, gateway or KeptStarts(), ThreadPool("test-expiry", 2))  # type: ignore[arg-type]


async def completed(
    engine: Engine, expires_at: datetime | None, started: list[tuple[str, datetime]], **fields: object
) -> DnsRequestSpec:
    """A create with `expires_at`, accepted and COMPLETED with its record, as the workflow ends one."""
    spec = request_spec(expires_at=expires_at, **fields)
    with engine.begin() as conn:
        request_rows.insert_request(conn, spec, datetime.now(UTC))

    async def start(request_id: str, when: datetime) -> None:
        started.append((request_id, when))

    step = LogStep(spec.request_id, str(uuid.uuid4()), datetime.now(UTC), "done", status="COMPLETED")
    record = RecordRow(
        spec.request_id,
        spec.record_type,
        spec.domain,
        spec.target,
        spec.ttl,
        None,
        None,
        datetime.now(UTC),
        operation=spec.operation,
        account_id=spec.account_id,
        zone=spec.zone,
    )
    await ActivityEnvironment().run(
        DatabaseActivities(engine, start_expiry=start).finish_request, FinishRequest(step, record)
    )
    return spec


def notice(spec: DnsRequestSpec, expires_at: datetime) -> ExpiryNotice:
    return ExpiryNotice(spec.request_id, str(uuid.uuid4()), datetime.now(UTC), expires_at)


def events(engine: Engine, request_id: str) -> list[RequestEvent]:
    with Session(engine) as session:
        query = select(RequestEvent).where(col(RequestEvent.request_id) == uuid.UUID(request_id))
        return list(session.exec(query.order_by(col(RequestEvent.sequence))).scalars())  # type: ignore[call-overload]


def row(engine: Engine, request_id: str) -> DnsRequest:
    with Session(engine) as session:
        found = session.get(DnsRequest, uuid.UUID(request_id))
        assert found is not None
        return found


def test_migration_0008_adds_expires_at_and_takes_it_away(postgres_server: LocalPostgres) -> None:
    postgres_server.ensure_database("expiry_migration")
    url = postgres_server.url("expiry_migration")

    def columns() -> set[str]:
        engine = create_engine(url)
        try:
            return {c["name"] for c in inspect(engine).get_columns("dns_requests")}
        finally:
            engine.dispose()

    migrate.upgrade(url)
    assert "expires_at" in columns()
    migrate.downgrade(url, "0007")
    assert "expires_at" not in columns() and "event_seq" in columns()
    migrate.upgrade(url)
    assert "expires_at" in columns()


async def test_a_create_that_completed_with_expires_at_starts_its_expiry(engine: Engine) -> None:
    started: list[tuple[str, datetime]] = []
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    spec = await completed(engine, expires_at, started)
    await completed(engine, None, started)  # no expiry asked for: nothing starts
    assert started == [(spec.request_id, expires_at)]
    assert row(engine, spec.request_id).expires_at == expires_at


async def test_the_warning_is_an_outbox_event_with_the_next_sequence_written_once(engine: Engine) -> None:
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    spec = await completed(engine, expires_at, [])
    before = [(e.sequence, e.status) for e in events(engine, spec.request_id)]
    assert before == [(1, "PENDING"), (2, "COMPLETED")]
    warning = notice(spec, expires_at)
    acts, env = expiry_activities(engine), ActivityEnvironment()
    assert (await env.run(acts.warn, warning)).kind == ""
    await env.run(acts.warn, warning)  # a retried activity: no second event
    after = events(engine, spec.request_id)
    assert [(e.sequence, e.status) for e in after] == [*before, (3, "EXPIRING")]
    assert f"expires at {expires_at.isoformat()}" in after[-1].reason and after[-1].published_at is None
    stored = row(engine, spec.request_id)
    assert stored.status == "COMPLETED" and stored.event_seq == 3
    assert stored.log_messages[-1]["step"] == "expiry" and "status" not in stored.log_messages[-1]


async def test_a_record_replaced_by_a_later_update_is_neither_warned_of_nor_deleted(engine: Engine) -> None:
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    first = await completed(engine, expires_at, [])
    later = await completed(engine, None, [], domain=first.domain, operation="update", target="192.0.2.77")
    gateway = KeptStarts()
    acts, env = expiry_activities(engine, gateway), ActivityEnvironment()
    warned = await env.run(acts.warn, notice(first, expires_at))
    expired = await env.run(acts.expire, notice(first, expires_at))
    assert warned.kind == expired.kind == "superseded"
    assert f"replaced by request {later.request_id}" in expired.detail
    assert [e.status for e in events(engine, first.request_id)] == ["PENDING", "COMPLETED"]
    assert gateway.started == [], "an expiry deleted a record a later update had replaced"
    assert "dropped" in row(engine, first.request_id).log_messages[-1]["message"]


async def test_at_expiry_a_request_in_flight_on_the_record_is_waited_for(engine: Engine) -> None:
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    spec = await completed(engine, expires_at, [])
    in_flight = request_spec(domain=spec.domain, operation="update", target="192.0.2.78")
    with engine.begin() as conn:
        request_rows.insert_request(conn, in_flight, datetime.now(UTC))
    gateway = KeptStarts()
    outcome = await ActivityEnvironment().run(
        expiry_activities(engine, gateway).expire, notice(spec, expires_at)
    )
    assert outcome.kind == "busy" and in_flight.request_id in outcome.detail
    assert gateway.started == []


async def test_the_expirys_delete_goes_through_accept_as_source_expiry_without_approval(
    engine: Engine,
) -> None:
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    spec = await completed(engine, expires_at, [])
    gateway = KeptStarts()
    acts, env = expiry_activities(engine, gateway), ActivityEnvironment()
    outcome = await env.run(acts.expire, notice(spec, expires_at))
    again = await env.run(acts.expire, notice(spec, expires_at))  # a retried activity
    assert outcome.kind == again.kind == "" and outcome.delete_request_id == again.delete_request_id
    assert outcome.delete_request_id == delete_request_id(spec.request_id, expires_at)
    [started] = await gateway.until(1)
    assert started.request.operation == "delete" and started.request.source == "expiry"
    assert (started.request.domain, started.request.record_type) == (spec.domain, spec.record_type)
    assert started.approval_required is False, "the owner asked for this delete up front"
    delete = row(engine, outcome.delete_request_id)
    assert (delete.source, delete.operation, delete.account_id) == ("expiry", "delete", spec.account_id)
    assert (
        f"delete request {outcome.delete_request_id} started"
        in row(engine, spec.request_id).log_messages[-1]["message"]
    )


async def test_a_record_deleted_since_is_not_deleted_again(engine: Engine) -> None:
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    first = await completed(engine, expires_at, [])
    await completed(engine, None, [], domain=first.domain, operation="delete", target="")
    gateway = KeptStarts()
    outcome = await ActivityEnvironment().run(
        expiry_activities(engine, gateway).expire, notice(first, expires_at)
    )
    assert outcome.kind == "superseded" and "was deleted since" in outcome.detail
    assert gateway.started == []


async def test_a_drift_restore_of_the_record_keeps_its_expiry(engine: Engine) -> None:
    """Drift re-applies the recorded values (a new row, the old one retired): nobody changed the
    record, so it still expires."""
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    first = await completed(engine, expires_at, [])
    await completed(engine, None, [], domain=first.domain, operation="restore", source="drift")
    gateway = KeptStarts()
    outcome = await ActivityEnvironment().run(
        expiry_activities(engine, gateway).expire, notice(first, expires_at)
    )
    assert outcome.kind == "" and [s.request.operation for s in await gateway.until(1)] == ["delete"]
