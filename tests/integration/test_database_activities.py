"""The database activities against a real PostgreSQL: each write happens once, however often it runs."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DataError
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.database import DatabaseActivities
from dnsorch.contracts import BeginRequest, DnsRequestSpec, FinishRequest, LogStep, RecordRow
from dnsorch.store import DnsRecord, DnsRequest, owners, served_records
from tests.fixtures.specs import request_spec

pytestmark = pytest.mark.integration


def new_spec(**overrides: object) -> DnsRequestSpec:
    """A TXT create whose strings would do harm if anything templated or interpolated them."""
    hostile = {
        "record_type": "TXT",
        "domain": "t.example.test",
        "target": "{{ lookup('pipe','id') }}",
        "comment": "{% raw %} '; DROP TABLE dns_requests; --",
    }
    return request_spec(**{**hostile, **overrides})


def load(engine: Engine, request_id: str) -> DnsRequest:
    with Session(engine) as session:
        row = session.get(DnsRequest, uuid.UUID(request_id))
        assert row is not None
        return row


async def test_request_row_is_created_once_and_strings_are_stored_literally(engine: Engine) -> None:
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    spec = new_spec()
    assert await env.run(acts.ensure_request_row, spec) is True
    assert await env.run(acts.ensure_request_row, spec) is False
    row = load(engine, spec.request_id)
    assert row.status == "PENDING"
    assert row.target == "{{ lookup('pipe','id') }}"
    assert row.comment == "{% raw %} '; DROP TABLE dns_requests; --"
    assert row.workflow_id == f"dns-request-{spec.request_id}"
    assert row.config == {"ttl": 300, "priority": None, "extra_config": {}}
    assert [entry["id"] for entry in row.log_messages] == ["accepted"]


async def test_a_retried_log_step_adds_one_line_and_sets_the_status(engine: Engine) -> None:
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    spec = new_spec()
    await env.run(acts.ensure_request_row, spec)
    step = LogStep(
        request_id=spec.request_id,
        entry_id=str(uuid.uuid4()),
        at=datetime.now(UTC),
        message="provisioning started",
        status="IN_PROGRESS",
        step="apply",
    )
    assert await env.run(acts.record_step, step) is True
    assert await env.run(acts.record_step, step) is False
    row = load(engine, spec.request_id)
    assert row.status == "IN_PROGRESS"
    assert [e["message"] for e in row.log_messages] == [
        "request accepted from api",
        "provisioning started",
    ]
    assert row.log_messages[1]["at"] == step.at.isoformat()


async def test_log_step_for_an_unknown_request_fails_without_retrying(engine: Engine) -> None:
    acts = DatabaseActivities(engine)
    step = LogStep(request_id=str(uuid.uuid4()), entry_id="x", at=datetime.now(UTC), message="m")
    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(acts.record_step, step)
    assert failed.value.non_retryable


async def test_record_is_stored_once_per_request(engine: Engine) -> None:
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    # A name of its own: the e2e suite may share this database, and creates www.example.test.
    domain = f"stored-once-{uuid.uuid4().hex[:8]}.example.test"
    spec = new_spec(record_type="A", domain=domain, target="192.0.2.10")
    await env.run(acts.ensure_request_row, spec)
    row = RecordRow(
        request_id=spec.request_id,
        record_type="A",
        domain=domain,
        target="192.0.2.10",
        ttl=300,
        priority=None,
        comment=None,
        provisioned_at=datetime.now(UTC),
    )
    assert await env.run(acts.store_record, row) is True
    assert await env.run(acts.store_record, row) is False
    with Session(engine) as session:
        count = session.exec(  # type: ignore[call-overload]
            select(func.count())
            .select_from(DnsRecord)
            .where(DnsRecord.request_id == uuid.UUID(spec.request_id))
        ).one()
    assert count[0] == 1


async def test_each_status_change_gets_one_outbox_event_with_the_next_sequence(engine: Engine) -> None:
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    spec = new_spec()
    await env.run(acts.ensure_request_row, spec)
    steps = [
        LogStep(
            request_id=spec.request_id,
            entry_id="s1",
            at=datetime.now(UTC),
            message="started",
            status="IN_PROGRESS",
        ),
        LogStep(request_id=spec.request_id, entry_id="s2", at=datetime.now(UTC), message="a note"),
        LogStep(
            request_id=spec.request_id,
            entry_id="s3",
            at=datetime.now(UTC),
            message="done",
            status="COMPLETED",
        ),
    ]
    for step in [*steps, steps[0], steps[2]]:  # the last two are retries
        await env.run(acts.record_step, step)
    with engine.connect() as conn:
        events = conn.execute(
            text(
                "SELECT sequence, status, reason FROM request_events WHERE request_id = :id ORDER BY sequence"
            ),
            {"id": spec.request_id},
        ).all()
    assert [tuple(e) for e in events] == [
        (1, "PENDING", "request accepted from api"),
        (2, "IN_PROGRESS", "started"),
        (3, "COMPLETED", "done"),
    ]


def step_for(spec: DnsRequestSpec, message: str, status: str | None = None) -> LogStep:
    return LogStep(spec.request_id, str(uuid.uuid4()), datetime.now(UTC), message, status=status)


async def test_begin_writes_the_missing_row_and_the_first_status_once(engine: Engine) -> None:
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    spec, accepted_elsewhere = new_spec(), new_spec()
    await env.run(acts.ensure_request_row, accepted_elsewhere)  # the API wrote this one's row
    for each in (spec, accepted_elsewhere):
        begin = BeginRequest(each, step_for(each, "provisioning started", "IN_PROGRESS"))
        assert await env.run(acts.begin_request, begin) is (each is spec)
        assert await env.run(acts.begin_request, begin) is False  # retried: nothing added
        row = load(engine, each.request_id)
        assert row.status == "IN_PROGRESS"
        assert [e["message"] for e in row.log_messages] == [
            "request accepted from api",
            "provisioning started",
        ]


async def test_finish_stores_the_record_and_the_final_status_together_or_not_at_all(engine: Engine) -> None:
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    spec = new_spec()
    await env.run(acts.begin_request, BeginRequest(spec, step_for(spec, "started", "IN_PROGRESS")))
    record = RecordRow(spec.request_id, "TXT", spec.domain, spec.target, 300, None, None, datetime.now(UTC))
    unstorable = step_for(spec, "served \x00", "COMPLETED")  # PostgreSQL's jsonb refuses NUL
    with pytest.raises(DataError):
        await env.run(acts.finish_request, FinishRequest(unstorable, record))
    assert load(engine, spec.request_id).status == "IN_PROGRESS"
    assert count_records(engine, spec.request_id) == 0, "the record was stored without its status"
    done = FinishRequest(step_for(spec, "served", "COMPLETED"), record)
    await env.run(acts.finish_request, done)
    await env.run(acts.finish_request, done)  # retried after a lost reply
    assert load(engine, spec.request_id).status == "COMPLETED"
    assert count_records(engine, spec.request_id) == 1


async def test_lines_kept_back_are_written_first_in_order_and_once(engine: Engine) -> None:
    """Patch fewer-round-trips: a write carries the lines the workflow kept back (`earlier`)."""
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    spec = new_spec()
    await env.run(acts.begin_request, BeginRequest(spec, step_for(spec, "started", "IN_PROGRESS")))
    served = dataclasses.replace(
        step_for(spec, "served by every authoritative server"), propagation={"ns1": 0.2}
    )
    ptr = step_for(spec, "PTR served by every authoritative server")
    note = dataclasses.replace(step_for(spec, "a note"), earlier=[served, ptr])
    assert await env.run(acts.record_step, note) is True
    assert await env.run(acts.record_step, note) is False  # retried: nothing added
    record = RecordRow(spec.request_id, "TXT", spec.domain, spec.target, 300, None, None, datetime.now(UTC))
    later = step_for(spec, "served again")
    unstorable = dataclasses.replace(step_for(spec, "done \x00", "COMPLETED"), earlier=[later])
    with pytest.raises(DataError):  # the final write fails: its earlier line is not written either
        await env.run(acts.finish_request, FinishRequest(unstorable, record))
    assert [e["message"] for e in load(engine, spec.request_id).log_messages][-1] == "a note"
    done = FinishRequest(
        dataclasses.replace(step_for(spec, "done", "COMPLETED"), earlier=[ptr, later]), record
    )
    await env.run(acts.finish_request, done)
    await env.run(acts.finish_request, done)  # retried after a lost reply
    row = load(engine, spec.request_id)
    assert [e["message"] for e in row.log_messages] == [
        "request accepted from api",
        "started",
        "served by every authoritative server",
        "PTR served by every authoritative server",
        "a note",
        "served again",
        "done",
    ]
    assert row.log_messages[2]["propagation"] == {"ns1": 0.2} and row.status == "COMPLETED"


def count_records(engine: Engine, request_id: str) -> int:
    with Session(engine) as session:
        query = (
            select(func.count()).select_from(DnsRecord).where(DnsRecord.request_id == uuid.UUID(request_id))
        )
        return int(session.execute(query).scalar_one())


async def test_the_first_completed_create_owns_the_name_until_its_last_record_is_deleted(
    engine: Engine,
) -> None:
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    domain = f"own-{uuid.uuid4().hex[:6]}.example.test"

    async def complete(account: str, operation: str, record_type: str = "TXT") -> None:
        spec = new_spec(domain=domain, account_id=account, operation=operation, record_type=record_type)
        await env.run(acts.begin_request, BeginRequest(spec, step_for(spec, "started", "IN_PROGRESS")))
        row = RecordRow(
            spec.request_id, record_type, domain, "v", 300, None, None, datetime.now(UTC), operation, account,
            zone=spec.zone,
        )  # fmt: skip
        await env.run(acts.finish_request, FinishRequest(step_for(spec, "done", "COMPLETED"), row))

    def owner() -> str | None:
        with engine.connect() as conn:
            found = owners.owner_of(conn, domain, "example.test")
            return found.account_id if found else None

    assert owner() is None
    await complete("acct-first", "create")
    await complete("acct-first", "create", "MX")
    await complete(
        "acct-second", "update"
    )  # the accept and apply checks refuse it; the table keeps the first
    assert owner() == "acct-first"
    await complete("acct-first", "delete")  # the MX record is still managed
    assert owner() == "acct-first"
    await complete("acct-first", "delete", "MX")
    assert owner() is None, "a name with no managed record left must be free for any account"


async def test_a_drift_request_is_superseded_once_dnsorch_records_another_value(engine: Engine) -> None:
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    made = request_spec()
    await env.run(acts.ensure_request_row, made)
    with engine.begin() as conn:
        served_records.apply_record(conn, _row_of(made))
    restore = dataclasses.replace(made, request_id=str(uuid.uuid4()), source="drift", operation="restore")
    assert await env.run(acts.superseded, restore) == ""
    moved = dataclasses.replace(restore, target="192.0.2.99")
    assert await env.run(acts.superseded, moved) == (
        f"superseded: dnsorch now records 192.0.2.10 (TTL 300) for A {made.domain}"
    )
    gone = dataclasses.replace(restore, domain=f"gone-{made.domain}")
    assert (await env.run(acts.superseded, gone)).startswith("superseded: dnsorch now records nothing")


def _row_of(spec: DnsRequestSpec) -> RecordRow:
    return RecordRow(
        request_id=spec.request_id,
        record_type=spec.record_type,
        domain=spec.domain,
        target=spec.target,
        ttl=spec.ttl,
        priority=spec.priority,
        comment=None,
        provisioned_at=datetime.now(UTC),
        account_id=spec.account_id,
    )


async def test_a_drift_request_is_superseded_when_only_an_srv_port_or_weight_changed(engine: Engine) -> None:
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    made = request_spec(
        record_type="SRV", target="sip.example.test", priority=10, extra_config={"port": 5060, "weight": 5}
    )
    made = dataclasses.replace(made, domain=f"_sip._tcp.{made.domain}")
    await env.run(acts.ensure_request_row, made)
    with engine.begin() as conn:
        served_records.apply_record(conn, _row_of(made))
    restore = dataclasses.replace(made, request_id=str(uuid.uuid4()), source="drift", operation="restore")
    assert await env.run(acts.superseded, restore) == ""
    for changed in ({"port": 5061, "weight": 5}, {"port": 5060, "weight": 6}):
        older = dataclasses.replace(restore, extra_config=changed)
        assert (await env.run(acts.superseded, older)).startswith(
            "superseded: dnsorch now records 10 5 5060 sip.example.test."
        ), changed


async def test_a_late_store_of_an_older_change_leaves_the_newer_record_current(engine: Engine) -> None:
    """Issue 22, item 11: a request whose PTR waited for an operator past the name's lease stored its
    forward record last, and retired the row of the request that changed the name after it: DNS
    served the newer value, `dns_records` said the older. A row served before the current one is
    now stored retired."""
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    domain = f"late-{uuid.uuid4().hex[:8]}.example.test"
    older = new_spec(record_type="A", domain=domain, target="192.0.2.30", operation="update")
    newer = new_spec(record_type="A", domain=domain, target="192.0.2.31", operation="update")
    served_first = datetime.now(UTC)
    rows = {}
    for spec, at in ((older, served_first), (newer, served_first + timedelta(seconds=1))):
        await env.run(acts.ensure_request_row, spec)
        rows[spec.request_id] = RecordRow(
            spec.request_id, "A", domain, spec.target, 300, None, None, at, "update", spec.account_id
        )
    await env.run(acts.store_record, rows[newer.request_id])
    await env.run(acts.store_record, rows[older.request_id])  # the late one: served first, stored last
    with engine.connect() as conn:
        assert served_records.recorded(conn, domain, "A") == ("192.0.2.31", 300, None)
        current = conn.execute(
            select(DnsRecord.target).where(DnsRecord.domain == domain, DnsRecord.deleted_at.is_(None))  # type: ignore[union-attr]
        ).scalars()
        assert list(current) == ["192.0.2.31"]


async def test_a_late_store_of_an_older_change_after_a_later_delete_leaves_the_name_without_a_record(
    engine: Engine,
) -> None:
    """Found by the soak's regression replay (ENGINE=server SEED=303): an update served everywhere
    waited in NEEDS_ATTENTION while the same account deleted the name; the update then ended
    COMPLETED ("served everywhere and stays") and stored its row last. The delete had left no row of
    its own, only the retired one, so the update's row became current and drift put the deleted
    record back. A row served before a later retirement is stored retired too."""
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    domain = f"gone-{uuid.uuid4().hex[:8]}.example.test"
    first = new_spec(record_type="A", domain=domain, target="192.0.2.37", operation="create")
    late = new_spec(record_type="A", domain=domain, target="192.0.2.23", operation="update")
    gone = new_spec(record_type="A", domain=domain, target="", operation="delete")
    start = datetime.now(UTC)
    steps = (
        (first, start, "create"),
        (late, start + timedelta(seconds=1), "update"),
        (gone, start + timedelta(seconds=2), "delete"),
    )
    rows = {}
    for spec, at, operation in steps:
        await env.run(acts.ensure_request_row, spec)
        rows[operation] = RecordRow(
            spec.request_id, "A", domain, spec.target, 300, None, None, at, operation, spec.account_id
        )
    await env.run(acts.store_record, rows["create"])
    await env.run(acts.store_record, rows["delete"])
    await env.run(acts.store_record, rows["update"])  # the late one: served before the delete, stored after
    with engine.connect() as conn:
        assert served_records.recorded(conn, domain, "A") is None
