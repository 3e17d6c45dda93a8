"""Batched apply against real servers: a burst of changes for one zone is applied by one playbook run,
and a change the server refuses is isolated from its neighbours, which are all served.

The core cases run against two implementations of RFC 2136, a BIND9 primary (with its Knot
secondary) and a Knot DNS primary, so "any RFC 2136 server" is tested rather than assumed."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.ansible import AnsibleActivities
from activities.dns_check import query_rrset
from devstack.knot import KnotServer
from dnsorch.contracts import ApplyResult, DnsChange
from tests.fixtures.bind import REVERSE_ZONE, TEST_ZONE, BindInfo, bind_settings

pytestmark = pytest.mark.integration

PRIMARIES = {"bind": "bind_server", "knot": "knot_primary"}


@pytest.fixture(params=sorted(PRIMARIES))
def primary(request: pytest.FixtureRequest) -> BindInfo:
    """The session's BIND primary or Knot DNS primary, each updatable with its TSIG key."""
    info: BindInfo = request.getfixturevalue(PRIMARIES[request.param])
    return info


def refused_change(primary: BindInfo, tag: str) -> tuple[DnsChange, str]:
    """A change this primary refuses, and the rcode it answers.

    BIND's check-names refuses `_` in an A owner; Knot has no such check and accepts it, so on
    Knot the refused change names a host outside the zone its update is for (NOTZONE).
    """
    if isinstance(primary.server, KnotServer):
        return a_change(f"bad-{tag}", "192.0.2.250", domain=f"bad-{tag}.elsewhere.test"), "NOTZONE"
    return a_change(f"_bad-{tag}", "192.0.2.250"), "REFUSED"


def applied(result: object, values: list[str]) -> bool:
    return isinstance(result, ApplyResult) and result.changed and result.served == values


def a_change(label: str, address: str, operation: str = "create", domain: str = "") -> DnsChange:
    return DnsChange(
        request_id=str(uuid.uuid4()),
        operation=operation,
        record_type="A",
        domain=domain or f"{label}.{TEST_ZONE}",
        zone=TEST_ZONE,
        values=[] if operation == "delete" else [address],
        ttl=300,
    )


async def apply_all(activities: AnsibleActivities, changes: list[DnsChange]) -> list[object]:
    async def one(change: DnsChange) -> ApplyResult:
        return await ActivityEnvironment().run(activities.apply_dns_change, change)

    return await asyncio.gather(*(one(c) for c in changes), return_exceptions=True)


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
async def test_a_burst_is_one_playbook_run_and_a_refused_change_fails_alone(
    primary: BindInfo, tmp_path: Path, warm: bool
) -> None:
    tag = uuid.uuid4().hex[:6]
    settings = bind_settings(
        primary, tmp_path / "state", batch_max_changes=100, batch_max_wait_ms=500, worker_playbook_warm=warm
    )
    activities = AnsibleActivities(settings, keep_run_dirs=True)
    good = [a_change(f"burst{i}-{tag}", f"192.0.2.{i + 1}") for i in range(30)]
    # The whole UPDATE holding the culprit would be refused.
    culprit, rcode = refused_change(primary, tag)
    changes = [*good[:15], culprit, *good[15:]]

    results = await apply_all(activities, changes)

    by_id = dict(zip((c.request_id for c in changes), results, strict=True))
    refused = by_id[culprit.request_id]
    assert isinstance(refused, ApplicationError) and refused.type == "DnsChangeRejected"
    assert refused.non_retryable and rcode in refused.message
    for change in good:
        assert applied(by_id[change.request_id], change.values), by_id[change.request_id]
        assert await query_rrset(primary.host, primary.port, change.domain, "A") == change.values
    runs = list((settings.state_dir / "ansible-runs").iterdir())
    assert len(runs) == 1, f"{len(runs)} playbook runs for one burst"
    activities.close()


async def test_an_update_then_a_delete_of_one_name_ends_as_the_last_says(
    primary: BindInfo, tmp_path: Path
) -> None:
    """In arrival order (the name's lock lets them apply one after the other, each in its batch)."""
    name = f"order-{uuid.uuid4().hex[:6]}"
    settings = bind_settings(primary, tmp_path / "state")
    activities = AnsibleActivities(settings)
    for change in (
        a_change(name, "192.0.2.7"),
        a_change(name, "192.0.2.8", "update"),
        a_change(name, "", "delete"),
    ):
        await ActivityEnvironment().run(activities.apply_dns_change, change)
    assert await query_rrset(primary.host, primary.port, f"{name}.{TEST_ZONE}", "A") == []


async def test_a_batch_larger_than_a_message_is_sent_as_several_updates(
    bind_server: BindInfo, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    settings = bind_settings(
        bind_server, tmp_path / "state", batch_max_message_changes=7, batch_max_wait_ms=500
    )
    activities = AnsibleActivities(settings)
    changes = [a_change(f"msg{i}-{tag}", f"198.51.100.{i + 1}") for i in range(20)]
    results = await apply_all(activities, changes)
    assert all(isinstance(r, ApplyResult) for r in results), results
    for change in changes:
        assert await query_rrset(bind_server.host, bind_server.port, change.domain, "A") == change.values


async def test_the_server_refuses_a_create_of_an_existing_rrset_and_an_update_of_a_missing_one(
    primary: BindInfo, tmp_path: Path
) -> None:
    """RFC 2136 prerequisites: a lost race is refused by the server itself, as a conflict, and the
    neighbours of the refused changes in their batch are applied."""
    tag = uuid.uuid4().hex[:6]
    settings = bind_settings(primary, tmp_path / "state", batch_max_wait_ms=500)
    activities = AnsibleActivities(settings)
    taken = a_change(f"taken-{tag}", "192.0.2.40")
    await ActivityEnvironment().run(activities.apply_dns_change, taken)

    second_create = a_change(f"taken-{tag}", "192.0.2.41")
    missing_update = a_change(f"missing-{tag}", "192.0.2.42", "update")
    neighbours = [a_change(f"ok{i}-{tag}", f"192.0.2.{50 + i}") for i in range(4)]
    changes = [neighbours[0], second_create, neighbours[1], missing_update, *neighbours[2:]]
    results = dict(zip((c.request_id for c in changes), await apply_all(activities, changes), strict=True))

    for change, reason in ((second_create, "already exists"), (missing_update, "does not exist")):
        refused = results[change.request_id]
        assert isinstance(refused, ApplicationError) and refused.type == "DnsChangeConflict", refused
        assert refused.non_retryable and reason in refused.message
    assert await query_rrset(primary.host, primary.port, taken.domain, "A") == ["192.0.2.40"]
    assert await query_rrset(primary.host, primary.port, missing_update.domain, "A") == []
    for change in neighbours:
        assert applied(results[change.request_id], change.values), results[change.request_id]


async def test_a_create_applied_before_is_applied_again_not_refused(
    primary: BindInfo, tmp_path: Path
) -> None:
    """A retry after a lost answer meets its own RRset: served exactly as asked, so it succeeds."""
    settings = bind_settings(primary, tmp_path / "state")
    activities = AnsibleActivities(settings)
    change = a_change(f"again-{uuid.uuid4().hex[:6]}", "192.0.2.44")
    first = await ActivityEnvironment().run(activities.apply_dns_change, change)
    again = await ActivityEnvironment().run(activities.apply_dns_change, change)
    assert applied(first, ["192.0.2.44"]) and applied(again, ["192.0.2.44"]), (first, again)


async def test_a_second_create_with_another_ttl_is_refused_not_taken_for_applied_before(
    primary: BindInfo, tmp_path: Path
) -> None:
    """Found by the soak (SEED=7): two creates of one A value, TTL 3600 and 300, both COMPLETED; DNS
    served TTL 3600 and dns_records said 300. 'Applied before' means the whole RRset, TTL included."""
    settings = bind_settings(primary, tmp_path / "state")
    activities = AnsibleActivities(settings)
    first = a_change(f"ttl-{uuid.uuid4().hex[:6]}", "192.0.2.45")
    first = dataclasses.replace(first, ttl=3600)
    second = dataclasses.replace(first, request_id=str(uuid.uuid4()), ttl=300)
    assert applied(await ActivityEnvironment().run(activities.apply_dns_change, first), ["192.0.2.45"])
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.apply_dns_change, second)
    assert refused.value.type == "DnsChangeConflict" and "already exists" in refused.value.message


async def test_a_cname_create_applied_before_is_applied_again_not_refused(
    primary: BindInfo, tmp_path: Path
) -> None:
    """Found by the soak: a CNAME create retried after a verification timeout met its own CNAME, and
    the server's YXRRSET ended the request REJECTED while DNS served it."""
    settings = bind_settings(primary, tmp_path / "state")
    activities = AnsibleActivities(settings)
    name = f"alias-{uuid.uuid4().hex[:6]}.{TEST_ZONE}"
    change = dataclasses.replace(
        a_change("", "", domain=name), record_type="CNAME", values=[f"www.{TEST_ZONE}."]
    )
    first = await ActivityEnvironment().run(activities.apply_dns_change, change)
    again = await ActivityEnvironment().run(activities.apply_dns_change, change)
    assert applied(first, [f"www.{TEST_ZONE}."]) and applied(again, [f"www.{TEST_ZONE}."]), (first, again)


async def test_a_cname_is_refused_where_other_data_exists_and_other_data_where_a_cname_is(
    primary: BindInfo, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    settings = bind_settings(primary, tmp_path / "state")
    activities = AnsibleActivities(settings)
    address, alias = a_change(f"addr-{tag}", "192.0.2.45"), f"alias-{tag}.{TEST_ZONE}"
    cname = DnsChange(str(uuid.uuid4()), "create", "CNAME", alias, TEST_ZONE, [f"www.{TEST_ZONE}."], 300)
    await ActivityEnvironment().run(activities.apply_dns_change, address)
    await ActivityEnvironment().run(activities.apply_dns_change, cname)

    cname_on_address = DnsChange(
        str(uuid.uuid4()), "create", "CNAME", address.domain, TEST_ZONE, [f"www.{TEST_ZONE}."], 300
    )
    address_on_cname = a_change(f"alias-{tag}", "192.0.2.46")
    for change, reason in ((cname_on_address, "cannot share"), (address_on_cname, "holds a CNAME")):
        with pytest.raises(ApplicationError) as refused:
            await ActivityEnvironment().run(activities.apply_dns_change, change)
        assert refused.value.type == "DnsChangeConflict" and reason in refused.value.message
    assert await query_rrset(primary.host, primary.port, address.domain, "A") == ["192.0.2.45"]
    assert await query_rrset(primary.host, primary.port, alias, "A") == []


async def test_an_a_record_and_its_ptr_ready_together_are_one_playbook_run(
    bind_server: BindInfo, tmp_path: Path
) -> None:
    """Changes of two zones share a run (one UPDATE per zone): a PTR rides with the forward changes."""
    tag = uuid.uuid4().hex[:6]
    settings = bind_settings(bind_server, tmp_path / "state", batch_max_changes=100, batch_max_wait_ms=500)
    activities = AnsibleActivities(settings, keep_run_dirs=True)
    forward = a_change(f"both-{tag}", "192.0.2.77")
    octet = 10 + uuid.UUID(forward.request_id).int % 200
    ptr = DnsChange(
        request_id=str(uuid.uuid4()),
        operation="restore",
        record_type="PTR",
        domain=f"{octet}.{REVERSE_ZONE}",
        zone=REVERSE_ZONE,
        values=[f"{forward.domain}."],
        ttl=300,
    )
    results = await apply_all(activities, [forward, ptr])
    assert applied(results[0], forward.values) and applied(results[1], ptr.values), results
    assert await query_rrset(bind_server.host, bind_server.port, ptr.domain, "PTR") == ptr.values
    runs = list((settings.state_dir / "ansible-runs").iterdir())
    assert len(runs) == 1, f"{len(runs)} playbook runs for two zones' changes ready together"
