"""Automatic PTRs: an A change in a zone whose reverse zone dnsorch manages runs child PTR requests."""

from __future__ import annotations

import asyncio
import dataclasses

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import WorkflowState
from dnsorch.dns import ptr_requests, reverse_zone_of
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FAST_POLICY, FakeStore, act, start, until_status, worker
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
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, reverse_zones=REVERSE)
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert [(c.record_type, c.operation, c.domain, c.values) for c in store.applied] == [
        ("A", "create", spec.domain, ["192.0.2.10"]),
        ("PTR", "restore", "10.2.0.192.in-addr.arpa", [spec.domain + "."]),
    ]
    assert len(store.records) == 2  # the PTR is a managed record of its own request
    assert any("PTR 10.2.0.192.in-addr.arpa (restore" in line["message"] for line in final.log)


async def test_a_ptr_that_cannot_be_kept_needs_an_operator(time_skipping_env: WorkflowEnvironment) -> None:
    owned = ApplicationError("the name belongs to another account", type="NameOwnedByAnotherAccount")
    store = FakeStore(fail_types={"PTR": owned})
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), reverse_zones=REVERSE)
        await until_status(store, "NEEDS_ATTENTION")
        state = await handle.query(DnsProvisioningWorkflow.state)
        # The A is served everywhere: failing is too late, resolving keeps it (with its record).
        assert await act(handle, "resolve", "PTR belongs elsewhere") == "COMPLETED"
    problem = state.last_error or ""
    assert problem.startswith("PTR 10.2.0.192.in-addr.arpa (restore") and "ended REJECTED" in problem
    assert [c.record_type for c in store.applied] == ["A", "PTR"]
    assert len(store.records) == 1


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


async def until_ended(store: FakeStore, request_id: str) -> None:
    while not any(s.request_id == request_id and s.status == "COMPLETED" for s in store.steps.values()):
        await asyncio.sleep(0.05)


async def test_a_ptr_waiting_for_an_operator_does_not_hold_its_forward_request(
    own_time_skipping_env: WorkflowEnvironment,
) -> None:
    """Issue 22, item 11: once its A is served everywhere, a request whose PTR request waits for an
    operator ends COMPLETED with its record (which lets its name go), and the PTR request goes on as
    a request of its own that operators steer and that ends once. A server of its own: the PTR
    request outlives the forward one, and a shared server's clock would wait on it."""
    time_skipping_env = own_time_skipping_env
    store = FakeStore(fail_types={"PTR": ApplicationError("SERVFAIL from the primary")})
    spec = request_spec()
    (ptr,) = ptr_requests(spec, [], REVERSE, attempt=1)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, reverse_zones=REVERSE)
        # Neither `result()` while the PTR request waits: the test server would skip to its deadline.
        await until_ended(store, spec.request_id)
        final = await handle.query(DnsProvisioningWorkflow.state)
        child = time_skipping_env.client.get_workflow_handle(ptr.workflow_id, result_type=WorkflowState)
        waiting = await child.query(DnsProvisioningWorkflow.state)
        assert (final.status, waiting.status) == ("COMPLETED", "NEEDS_ATTENTION"), (final.log, waiting.log)
        assert final.log[-1]["message"].endswith(
            f"PTR {ptr.domain} (restore, request {ptr.request_id}) waits for an operator in its own request"
        )
        assert spec.request_id in store.records

        store.fail_types.clear()
        await act(child, "retry", "primary is back")
        assert (await child.result()).status == "COMPLETED"
    assert [c.record_type for c in store.applied].count("PTR") == FAST_POLICY.max_attempts + 1
    assert ptr.request_id in store.records
