"""PTRs in the same apply (patch ptr-in-apply) on a real BIND primary: one `apply_dns_changes` call
carries an A change and its PTR change, one playbook run sends them as one UPDATE per zone, and each
is served; a PTR the server refuses is reported beside the applied A instead of failing it."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.ansible import AnsibleActivities
from activities.database import DatabaseActivities
from activities.dns_check import query_rrset
from activities.name_claims import NameClaims, RequestEnded
from activities.pools import ThreadPool
from dnsorch.contracts import (
    BeginRequest,
    ChangeSet,
    ChangeSetResult,
    DnsChange,
    FinishRequest,
    KeptPtr,
    LogStep,
    RecordRow,
)
from dnsorch.dns import change_for, ptr_requests
from dnsorch.store import DnsRequest, name_claims, owners, request_rows, served_records
from tests.fixtures.bind import REVERSE_ZONE, TEST_ZONE, BindInfo, bind_settings
from tests.fixtures.specs import request_spec
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


def a_change(label: str, address: str) -> DnsChange:
    return DnsChange(str(uuid.uuid4()), "create", "A", f"{label}.{TEST_ZONE}", TEST_ZONE, [address], 300)


def ptr_change(domain: str, forward: DnsChange) -> DnsChange:
    return DnsChange(
        str(uuid.uuid4()),
        "restore",
        "PTR",
        domain,
        REVERSE_ZONE,
        [f"{forward.domain}."],
        300,
        source="ptr",
        ptr_of=forward.domain,
    )


async def serial(bind: BindInfo, zone: str) -> int:
    (soa,) = await query_rrset(bind.host, bind.port, zone, "SOA")
    return int(soa.split()[2])


async def test_an_a_record_and_its_ptr_are_one_run_of_two_updates(
    bind_server: BindInfo, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    settings = bind_settings(bind_server, tmp_path / "state", batch_max_changes=100, batch_max_wait_ms=50)
    activities = AnsibleActivities(settings, keep_run_dirs=True)
    forward = a_change(f"ptr-{tag}", "192.0.2.88")
    ptr = ptr_change(f"{10 + uuid.UUID(forward.request_id).int % 200}.{REVERSE_ZONE}", forward)
    before = {zone: await serial(bind_server, zone) for zone in (TEST_ZONE, REVERSE_ZONE)}

    done = await ActivityEnvironment().run(activities.apply_dns_changes, ChangeSet(forward, [ptr]))

    assert isinstance(done, ChangeSetResult) and done.result.served == forward.values
    assert [(p.domain, p.status) for p in done.ptrs] == [(ptr.domain, "applied")]
    assert done.ptrs[0].served_at is not None
    assert await query_rrset(bind_server.host, bind_server.port, ptr.domain, "PTR") == ptr.values
    runs = list((settings.state_dir / "ansible-runs").iterdir())
    assert len(runs) == 1, f"{len(runs)} playbook runs for one request's A and PTR"
    after = {zone: await serial(bind_server, zone) for zone in (TEST_ZONE, REVERSE_ZONE)}
    assert after == {zone: before[zone] + 1 for zone in before}, "one UPDATE (one serial bump) per zone"


async def test_a_ptr_the_server_refuses_is_reported_and_the_a_is_applied(
    bind_server: BindInfo, tmp_path: Path
) -> None:
    settings = bind_settings(bind_server, tmp_path / "state", batch_max_wait_ms=50)
    activities = AnsibleActivities(settings)
    forward = a_change(f"ptr-{uuid.uuid4().hex[:6]}", "192.0.2.89")
    refused = ptr_change("1.2.0.198.in-addr.arpa", forward)  # a zone this server does not serve
    refused.zone = "2.0.198.in-addr.arpa"

    done = await ActivityEnvironment().run(activities.apply_dns_changes, ChangeSet(forward, [refused]))

    assert done.result.served == forward.values
    (outcome,) = done.ptrs
    assert outcome.status == "refused" and "2.0.198.in-addr.arpa" in outcome.message, outcome
    assert await query_rrset(bind_server.host, bind_server.port, forward.domain, "A") == forward.values


async def test_a_failed_forward_change_leaves_reverse_dns_as_it_was(
    bind_server: BindInfo, tmp_path: Path
) -> None:
    """The server refuses the A (a create of an A that exists by now) while its PTR, in another
    zone's UPDATE, is applied: the PTR is restored to what its plan saw before the activity fails."""
    activities = AnsibleActivities(bind_settings(bind_server, tmp_path / "state", batch_max_wait_ms=50))
    forward = a_change(f"taken-{uuid.uuid4().hex[:6]}", "192.0.2.92")
    taken = dataclasses.replace(forward, request_id=str(uuid.uuid4()), values=["192.0.2.93"])
    await ActivityEnvironment().run(activities.apply_dns_change, taken)  # someone else's, first
    ptr = ptr_change(f"{10 + uuid.UUID(forward.request_id).int % 200}.{REVERSE_ZONE}", forward)
    undo = dataclasses.replace(ptr, values=[])  # its plan saw no PTR there

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.apply_dns_changes, ChangeSet(forward, [ptr], [undo]))

    assert refused.value.non_retryable and "already exists" in refused.value.message
    assert await query_rrset(bind_server.host, bind_server.port, ptr.domain, "PTR") == []


async def test_the_ptrs_kept_in_the_apply_are_stored_with_the_record_as_requests_of_their_own(
    engine: Engine,
) -> None:
    """The final write stores each PTR as the PTR requests of old did: a row (source `ptr`, the same
    account, COMPLETED) and its record, which planning and drift read as a PTR dnsorch keeps."""
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    spec = request_spec(domain=f"ptr-{uuid.uuid4().hex[:6]}.{TEST_ZONE}", target="192.0.2.90")
    (ptr,) = ptr_requests(spec, [], [REVERSE_ZONE], attempt=1)
    await env.run(acts.begin_request, BeginRequest(spec, step(spec.request_id, "started", "IN_PROGRESS")))
    now = datetime.now(UTC)
    record = RecordRow(spec.request_id, "A", spec.domain, spec.target, 300, None, None, now, "create",
                       spec.account_id, spec.zone)  # fmt: skip
    kept = KeptPtr(
        ptr,
        step(ptr.request_id, "kept", "COMPLETED"),
        RecordRow(
            ptr.request_id,
            "PTR",
            ptr.domain,
            spec.domain,
            300,
            None,
            None,
            now,
            "restore",
            spec.account_id,
            ptr.zone,
        ),
    )
    done = FinishRequest(step(spec.request_id, "served", "COMPLETED"), record, [kept])
    await env.run(acts.finish_request, done)
    await env.run(acts.finish_request, done)  # retried after a lost reply: nothing added
    with Session(engine) as session:
        row = session.get(DnsRequest, uuid.UUID(ptr.request_id))
        assert row is not None and (row.status, row.source, row.account_id) == ("COMPLETED", "ptr", "acct-42")
    with engine.connect() as conn:
        assert served_records.recorded(conn, ptr.domain, "PTR") is not None
        owner = owners.owner_of(conn, ptr.domain, ptr.zone)
        assert owner is not None and owner.account_id == spec.account_id


def step(request_id: str, message: str, status: str) -> LogStep:
    return LogStep(request_id, str(uuid.uuid4()), datetime.now(UTC), message, status=status)


async def test_a_request_holds_its_name_and_its_ptr_names_and_its_next_status_lets_all_go(
    engine: Engine,
) -> None:
    claims = NameClaims(engine, ThreadPool("claims", 2))
    env = ActivityEnvironment()
    spec, later = request_spec(target="192.0.2.91"), request_spec(target="192.0.2.91")
    (ptr,) = ptr_requests(spec, [], [REVERSE_ZONE], attempt=1)
    for each in (spec, later):
        await env.run(
            DatabaseActivities(engine).begin_request,
            BeginRequest(each, step(each.request_id, "s", "IN_PROGRESS")),
        )
    forward = change_for(spec)
    ptr_claim = dataclasses.replace(change_for(ptr), request_id=spec.request_id)
    assert await claims.try_turn(forward) is None and await claims.try_turn(ptr_claim) is None
    assert (
        await claims.try_turn(dataclasses.replace(ptr_claim, request_id=later.request_id)) == spec.request_id
    )
    with engine.begin() as conn:
        request_rows.append_step(conn, step(spec.request_id, "done", "COMPLETED"))
    assert await claims.try_turn(dataclasses.replace(ptr_claim, request_id=later.request_id)) is None


async def test_the_apply_renews_the_names_its_request_holds_and_waits_for_one_held_by_another(
    engine: Engine,
) -> None:
    """The apply's own check of a change and its PTRs: the names its request holds pass at once,
    a PTR name another request holds first is waited for, and an ended request takes none."""
    claims = NameClaims(engine, ThreadPool("claims", 2))
    env = ActivityEnvironment()
    spec, other = request_spec(target="192.0.2.92"), request_spec(target="192.0.2.93")
    (ptr,) = ptr_requests(spec, [], [REVERSE_ZONE], attempt=1)
    for each in (spec, other):
        await env.run(
            DatabaseActivities(engine).begin_request,
            BeginRequest(each, step(each.request_id, "s", "IN_PROGRESS")),
        )
    forward = change_for(spec)
    ptr_claim = dataclasses.replace(change_for(ptr), request_id=spec.request_id)
    assert await claims.try_turn(forward) is None and await claims.try_turn(ptr_claim) is None
    await asyncio.wait_for(claims.wait_for_turns([forward, ptr_claim]), 5)  # both held: at once

    with engine.begin() as conn:  # the PTR name goes to another request meanwhile
        name_claims.release_names(conn, spec.request_id)
        assert name_claims.claim_name(conn, ptr.domain, other.request_id, 60) == other.request_id
    told: list[str] = []
    waiting = asyncio.ensure_future(claims.wait_for_turns([forward, ptr_claim], on_wait=told.append))
    await eventually(lambda: told == [other.request_id], timeout=5, what="the wait names the holder")
    assert not waiting.done()
    with engine.begin() as conn:  # the other request's next status lets its names go
        request_rows.append_step(conn, step(other.request_id, "done", "COMPLETED"))
    await asyncio.wait_for(waiting, 5)

    with engine.begin() as conn:
        request_rows.append_step(conn, step(spec.request_id, "done", "COMPLETED"))
    with pytest.raises(RequestEnded):
        await claims.wait_for_turns([forward, ptr_claim])
