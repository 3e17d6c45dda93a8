"""A cancel after the change was sent (issue 22, item 5): the final status is decided only once the
primary says what it serves. Served → the plan's snapshot is restored and the request ends CANCELLED
saying so; untouched → CANCELLED as before; unanswered → NEEDS_ATTENTION. Stub servers, time-skipping."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import StatusChange
from tests.fixtures.steering import (
    NEW,
    SERVFAIL,
    final_line,
    lagging_secondary,
    running,
    until_applying,
    until_attention,
)
from tests.fixtures.workflow_stubs import BEFORE, Primary, act, until_status
from workflows.provisioning import DnsProvisioningWorkflow


async def test_a_cancel_while_the_apply_is_in_flight_and_reaches_dns_restores_the_snapshot(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(hold_apply=True)
    async with running(time_skipping_env, store) as handle:
        await until_applying(store)
        assert await act(handle, "cancel", "wrong address") == "CANCELLED"
        final = await handle.result()
    assert store.apply_cancelled
    assert final.status == "CANCELLED"
    assert store.serves == [BEFORE], f"CANCELLED, but the primary serves {store.serves}"
    restore = store.applied[-1]
    assert (restore.operation, restore.values, restore.ttl) == ("restore", [BEFORE], 600)
    assert not store.records
    assert "had reached DNS" in final_line(store) and BEFORE in final_line(store)


async def test_a_cancel_in_needs_attention_after_a_verification_timeout_restores_the_snapshot(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = lagging_secondary()
    async with running(time_skipping_env, store) as handle:
        await until_attention(time_skipping_env, store)
        assert store.serves == [NEW]
        assert await act(handle, "cancel", "not needed after all") == "CANCELLED"
        final = await handle.result()
    assert final.status == "CANCELLED"
    assert [(c.operation, c.values) for c in store.applied] == [("create", [NEW]), ("restore", [BEFORE])]
    assert store.serves == [BEFORE]
    assert not store.records
    assert "had reached DNS; restored what the plan saw" in final_line(store)


async def test_a_cancel_when_the_primary_cannot_be_asked_waits_in_needs_attention(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = lagging_secondary()
    async with running(time_skipping_env, store) as handle:
        await until_attention(time_skipping_env, store)
        store.unreachable = True
        assert await act(handle, "cancel") == "NEEDS_ATTENTION"
        state = await handle.query(DnsProvisioningWorkflow.state)
        assert state.last_error and "could not be asked" in state.last_error
        store.unreachable = False  # the server answers again: the next cancel asks it once more
        assert await act(handle, "cancel") == "CANCELLED"
        await handle.result()
    assert store.applied[-1].operation == "restore" and store.serves == [BEFORE]
    assert "CANCELLED" not in store.statuses()[:-1]


async def test_a_cancel_after_a_change_that_never_reached_the_primary_ends_cancelled_as_before(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(fail_types={"A": SERVFAIL})
    async with running(time_skipping_env, store) as handle:
        await until_status(store, "NEEDS_ATTENTION")
        assert await act(handle, "cancel") == "CANCELLED"
    assert all(c.operation == "create" for c in store.applied), "nothing to restore"
    assert store.serves == [BEFORE]


async def test_a_cancel_before_the_apply_started_ends_cancelled_without_asking_dns(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary()
    async with running(time_skipping_env, store, approval=True) as handle:
        await until_status(store, "PENDING_APPROVAL")
        assert await act(handle, "cancel") == "CANCELLED"
        final = await handle.result()
    assert final.status == "CANCELLED"
    assert not store.applied and not store.plans
    assert store.serves == [BEFORE]


async def test_a_temporal_cancel_while_the_apply_is_in_flight_restores_the_snapshot_it_finds_served(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    # (A Temporal cancel after an apply that returned keeps REPORT_LATE_CANCEL's ending: COMPLETED.)
    store = Primary(hold_apply=True)
    async with running(time_skipping_env, store) as handle:
        await until_applying(store)
        await handle.cancel()
        final = await handle.result()
    assert store.apply_cancelled
    assert final.status == "CANCELLED"
    assert store.applied[-1].operation == "restore" and store.serves == [BEFORE]
    assert not store.records
    assert "cancelled in Temporal: the change had reached DNS" in final_line(store)


async def test_a_v1_manual_status_cancelled_in_needs_attention_restores_the_snapshot(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = lagging_secondary()
    async with running(time_skipping_env, store) as handle:
        await until_attention(time_skipping_env, store)
        await handle.signal(DnsProvisioningWorkflow.update_status, StatusChange("CANCELLED", "v1", "bob"))
        final = await handle.result()
    assert final.status == "CANCELLED"
    assert store.applied[-1].operation == "restore" and store.serves == [BEFORE]
    assert not store.records
    assert "cancelled by bob: v1: the change had reached DNS" in final_line(store)
