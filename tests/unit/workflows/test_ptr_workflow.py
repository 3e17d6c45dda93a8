"""Automatic PTRs: an A change in a zone whose reverse zone dnsorch manages keeps its PTR in its own
apply (patch ptr-in-apply; the child PTR requests of before replay from tests/replay/histories)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan
from dnsorch.dns import ptr_requests, reverse_zone_of
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, act, start, until_status, worker
from workflows.provisioning import DnsProvisioningWorkflow

REVERSE = ["2.0.192.in-addr.arpa"]


def test_the_closest_managed_reverse_zone_holds_the_ptr() -> None:
    zones = ["example.test", "192.in-addr.arpa", "2.0.192.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa"]
    assert reverse_zone_of("192.0.2.10", zones) == ("10.2.0.192.in-addr.arpa", "2.0.192.in-addr.arpa")
    assert reverse_zone_of("192.0.3.1", zones) == ("1.3.0.192.in-addr.arpa", "192.in-addr.arpa")
    assert reverse_zone_of("198.51.100.1", zones) is None
    ptr, zone = reverse_zone_of("2001:db8::1", zones) or ("", "")
    assert zone == "8.b.d.0.1.0.0.2.ip6.arpa" and ptr.endswith(".8.b.d.0.1.0.0.2.ip6.arpa")


def test_an_update_moves_the_ptr_and_a_delete_removes_it() -> None:
    spec = request_spec(domain="www.example.test", operation="update", target="192.0.2.20")
    moved = ptr_requests(spec, ["192.0.2.10"], REVERSE, attempt=1)
    assert [(p.operation, p.domain, p.target) for p in moved] == [
        ("restore", "20.2.0.192.in-addr.arpa", "www.example.test"),
        ("delete", "10.2.0.192.in-addr.arpa", "www.example.test"),
    ]
    assert all(
        p.source == "ptr" and p.account_id == spec.account_id and p.record_type == "PTR" for p in moved
    )
    gone = ptr_requests(dataclasses.replace(spec, operation="delete"), ["192.0.2.20"], REVERSE, attempt=1)
    assert [(p.operation, p.domain) for p in gone] == [("delete", "20.2.0.192.in-addr.arpa")]
    again = ptr_requests(spec, ["192.0.2.10"], REVERSE, attempt=2)
    assert {p.request_id for p in again}.isdisjoint({p.request_id for p in moved})  # a retry's are new
    assert ptr_requests(dataclasses.replace(spec, record_type="TXT"), [], REVERSE, attempt=1) == []


async def test_an_a_record_keeps_its_ptr_as_part_of_the_same_request(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    spec = request_spec()
    (ptr,) = ptr_requests(spec, [], REVERSE, attempt=1)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, reverse_zones=REVERSE)
        final = await handle.result()
    assert final.status == "COMPLETED", final.log
    assert [(c.record_type, c.operation, c.domain, c.values) for c in store.applied] == [
        ("A", "create", spec.domain, ["192.0.2.10"]),
        ("PTR", "restore", "10.2.0.192.in-addr.arpa", [spec.domain + "."]),
    ]
    assert store.apply_calls == 1, "the PTR rides in the forward change's apply"
    assert store.turns.count("take") == 2, "a turn on the A's name and on its PTR's"
    # The PTR is a managed record of a request row of its own, as PTR requests left it.
    assert set(store.records) == {spec.request_id, ptr.request_id} and ptr.request_id in store.rows
    kept = store.records[ptr.request_id]
    assert (kept.record_type, kept.domain, kept.target, kept.account_id) == (
        "PTR",
        ptr.domain,
        spec.domain,
        spec.account_id,
    )
    assert final.log[-1]["message"].endswith("PTR 10.2.0.192.in-addr.arpa (restore) served everywhere")
    with pytest.raises(RPCError):  # no child PTR request
        await time_skipping_env.client.get_workflow_handle(ptr.workflow_id).describe()


async def test_an_update_moves_its_ptr_and_a_delete_takes_it_in_the_same_apply(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    before = ChangePlan("replace", old_values=["192.0.2.10"], new_values=["192.0.2.20"], old_ttl=300)
    store = FakeStore(plan=before, type_plans={"PTR": ChangePlan("add")})
    update = request_spec(operation="update", target="192.0.2.20")
    async with worker(time_skipping_env, store):
        assert (await (await start(time_skipping_env, update, reverse_zones=REVERSE)).result()).status == (
            "COMPLETED"
        )
        moved = [(c.record_type, c.operation, c.domain) for c in store.applied]
        store.applied.clear()
        store.plan = ChangePlan("delete", old_values=["192.0.2.20"], old_ttl=300)
        delete = dataclasses.replace(request_spec(), domain=update.domain, operation="delete")
        assert (await (await start(time_skipping_env, delete, reverse_zones=REVERSE)).result()).status == (
            "COMPLETED"
        )
    assert moved == [
        ("A", "update", update.domain),
        ("PTR", "delete", "10.2.0.192.in-addr.arpa"),
        ("PTR", "restore", "20.2.0.192.in-addr.arpa"),
    ]
    assert [(c.record_type, c.operation, c.domain) for c in store.applied] == [
        ("A", "delete", update.domain),
        ("PTR", "delete", "20.2.0.192.in-addr.arpa"),
    ]
    assert store.apply_calls == 2, "one apply per request, its PTRs included"


async def test_a_ptr_that_cannot_be_kept_needs_an_operator(time_skipping_env: WorkflowEnvironment) -> None:
    owned = ApplicationError("the name belongs to another account", type="Refused", non_retryable=True)
    store = FakeStore(fail_types={"PTR": owned})
    spec = request_spec()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, reverse_zones=REVERSE)
        await until_status(store, "NEEDS_ATTENTION")
        state = await handle.query(DnsProvisioningWorkflow.state)
        # The A is served everywhere: failing is too late, resolving keeps it (with its record).
        assert await act(handle, "resolve", "PTR belongs elsewhere") == "COMPLETED"
    problem = state.last_error or ""
    assert problem.startswith("PTR 10.2.0.192.in-addr.arpa (restore) not applied: the name belongs"), problem
    assert [c.record_type for c in store.applied] == ["A", "PTR"]
    assert list(store.records) == [spec.request_id], "no row for a PTR DNS does not serve"


async def test_a_ptr_its_plan_refuses_stays_out_of_the_apply_and_is_named(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    unkept = "unmanaged_ptr: PTR 10.2.0.192.in-addr.arpa serves printer.elsewhere.test., not yours"
    store = FakeStore(type_plans={"PTR": ChangePlan("replace", conflict=unkept)})
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), reverse_zones=REVERSE)
        await until_status(store, "NEEDS_ATTENTION")
        state = await handle.query(DnsProvisioningWorkflow.state)
        await act(handle, "resolve", "PTR left to its owner")
    assert [c.record_type for c in store.applied] == ["A"]
    assert (state.last_error or "").endswith(f"refused: {unkept}")


async def test_a_retry_after_a_failed_ptr_applies_both_again_and_keeps_the_ptr(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(fail_types={"PTR": ApplicationError("SERVFAIL from the primary")})
    spec = request_spec()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, reverse_zones=REVERSE)
        await until_status(store, "NEEDS_ATTENTION")
        store.fail_types.clear()
        await act(handle, "retry", "primary is back")
        assert (await handle.result()).status == "COMPLETED"
    assert [c.record_type for c in store.applied] == ["A", "PTR", "A", "PTR"]
    assert len(store.records) == 2 and all(r.request_id in store.rows for r in store.records.values())


async def test_a_rollback_after_a_failed_ptr_restores_both_in_one_apply(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(fail_types={"PTR": ApplicationError("not served everywhere")})
    spec = request_spec()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, reverse_zones=REVERSE)
        await until_status(store, "NEEDS_ATTENTION")
        store.fail_types.clear()
        await act(handle, "rollback", "undo it all")
        assert (await handle.result()).status == "ROLLED_BACK"
    assert [(c.record_type, c.operation, c.values) for c in store.applied[2:]] == [
        ("A", "restore", []),
        ("PTR", "restore", []),
    ]
    assert store.apply_calls == 2 and store.records == {}


async def test_a_forward_record_stored_after_a_long_ptr_wait_says_when_it_was_served(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Issue 22, item 11: the forward record is stored when its request ends, which a PTR waiting for
    an operator can put hours after DNS served it; by then a later request may have changed the
    name. The row carries the time it was served everywhere, so `dns_records` keeps the newer
    row current (served_records.apply_record)."""
    owned = ApplicationError("the name belongs to another account", type="NameOwnedByAnotherAccount")
    store = FakeStore(fail_types={"PTR": owned})
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), reverse_zones=REVERSE)
        await until_status(store, "NEEDS_ATTENTION")
        await time_skipping_env.sleep(2 * 3600)
        assert await act(handle, "resolve", "PTR kept by hand") == "COMPLETED"
    (row,) = store.records.values()
    ended = max(step.at for step in store.steps.values())
    assert (ended - row.provisioned_at).total_seconds() >= 2 * 3600


async def test_a_cancel_that_comes_too_late_stores_the_ptr_applied_with_the_change(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """The batch carrying the A and its PTR ran all the same: the request ends COMPLETED with both
    rows, since DNS serves both."""
    store = FakeStore(block_apply=True, applied_despite_cancel=True)
    spec = request_spec()
    (ptr,) = ptr_requests(spec, [], REVERSE, attempt=1)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, reverse_zones=REVERSE)
        while not store.apply_started_at:
            await asyncio.sleep(0.05)
        assert await act(handle, "cancel") == "COMPLETED"
        assert (await handle.result()).status == "COMPLETED"
    assert set(store.records) == {spec.request_id, ptr.request_id}
