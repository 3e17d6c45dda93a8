"""Verify everywhere and roll back, in DnsProvisioningWorkflow (stub servers, time-skipping timers)."""

from __future__ import annotations

import dataclasses

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import PROPAGATION_POLICY, SECONDARY, FakeStore, act, start, worker
from workflows.provisioning import DnsProvisioningWorkflow

REPLACE = ChangePlan("replace", old_values=["192.0.2.1"], new_values=["192.0.2.10"], old_ttl=600, new_ttl=300)


async def test_completes_once_every_authoritative_server_serves_and_records_their_times(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        state = await handle.result()
    assert state.status == "COMPLETED"
    assert state.propagation == {"ns1.example.test (127.0.0.1)": 0.25, "ns2.example.test (127.0.0.2)": 0.25}
    verified = [s for s in store.steps.values() if s.step == "verify"]
    assert len(verified) == 1 and "served by every authoritative server" in verified[0].message
    assert store.checks == 1  # the fast path: no durable timer when the first check sees every server


async def test_a_server_that_never_serves_the_change_needs_an_operator_naming_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(behind={SECONDARY})
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        await past_the_deadline(time_skipping_env, store)
        state = await handle.query(DnsProvisioningWorkflow.state)
        assert "ns2.example.test (127.0.0.2)" in (state.last_error or "")
        assert "ns1.example.test" not in (state.last_error or "")
        assert state.propagation == {"ns1.example.test (127.0.0.1)": 0.25}
        assert store.checks >= 30 // 5  # asked again after each durable timer until the deadline
        store.behind.clear()  # the secondary takes transfers again
        await act(handle, "retry", "secondary restarted")
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert set(final.propagation) == {"ns1.example.test (127.0.0.1)", "ns2.example.test (127.0.0.2)"}
    assert store.statuses() == ["IN_PROGRESS", "NEEDS_ATTENTION", "IN_PROGRESS", "COMPLETED"]


async def test_with_rollback_policy_a_change_not_served_everywhere_is_undone(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(behind={SECONDARY}, plan=REPLACE)
    spec = request_spec()
    # The secondary serves the old value, as one that stopped taking transfers does: the rollback,
    # which restores that value, is then served everywhere.
    policy = dataclasses.replace(PROPAGATION_POLICY, rollback_on_verify_failure=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, policy=policy)
        store.behind_serves = ["192.0.2.1"]
        final = await handle.result()
    assert final.status == "ROLLED_BACK"
    assert [c.operation for c in store.applied] == ["create", "restore"]
    assert store.applied[1].values == ["192.0.2.1"] and store.applied[1].ttl == 600
    assert store.statuses() == ["IN_PROGRESS", "ROLLED_BACK"]
    assert not store.records  # dnsorch's record stays what it was: the change did not happen


async def test_an_operator_rolls_back_a_request_that_needs_attention(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(behind={SECONDARY}, plan=REPLACE)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        await past_the_deadline(time_skipping_env, store)
        store.behind_serves = ["192.0.2.1"]
        assert await act(handle, "rollback", "secondary lags, undo it") == "IN_PROGRESS"
        final = await handle.result()
    assert final.status == "ROLLED_BACK"
    assert store.statuses() == ["IN_PROGRESS", "NEEDS_ATTENTION", "IN_PROGRESS", "ROLLED_BACK"]
    assert store.applied[-1].operation == "restore"
    ended = [s for s in store.steps.values() if s.status == "ROLLED_BACK"]
    assert ended[0].actor == "alice" and "secondary lags, undo it" in ended[0].message


async def test_a_failed_rollback_needs_an_operator_again(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore(behind={SECONDARY}, plan=REPLACE)  # the secondary serves neither value
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        await past_the_deadline(time_skipping_env, store)
        await act(handle, "rollback")
        await past_the_deadline(time_skipping_env, store, 2)
        state = await handle.query(DnsProvisioningWorkflow.state)
        assert (state.last_error or "").startswith("rollback not served everywhere")
        # The restore was applied: giving up leaves the rollback standing, never the new value.
        assert await act(handle, "fail", "giving up") == "ROLLED_BACK"
    assert not store.records


async def test_rollback_is_refused_without_a_snapshot(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore(behind={SECONDARY}, plan=ChangePlan("unknown", note="Timeout"))
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        await past_the_deadline(time_skipping_env, store)
        state = await handle.query(DnsProvisioningWorkflow.state)
        assert "rollback" not in state.allowed_actions
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, "rollback")
        assert "no snapshot" in str(refused.value.cause)
        # The change was sent and the primary still cannot be asked: a cancel claims nothing (item 5).
        assert await act(handle, "cancel") == "NEEDS_ATTENTION"
        store.plan = None  # it answers again, and does not serve the change
        assert await act(handle, "cancel") == "CANCELLED"


async def past_the_deadline(env: WorkflowEnvironment, store: FakeStore, count: int = 1) -> None:
    """Skip the propagation deadline's durable timers until the request needs an operator."""
    for _ in range(200):
        if store.statuses().count("NEEDS_ATTENTION") >= count:
            return
        await env.sleep(PROPAGATION_POLICY.propagation_interval_seconds)
    raise AssertionError(f"NEEDS_ATTENTION not reached {count} time(s): {store.statuses()}")


async def test_a_request_raised_for_an_operator_applies_nothing_until_retried(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), attention="drift: ns2 serves 192.0.2.99")
        state = await handle.query(DnsProvisioningWorkflow.state)
        while state.status != "NEEDS_ATTENTION":
            state = await handle.query(DnsProvisioningWorkflow.state)
        assert state.last_error == "drift: ns2 serves 192.0.2.99" and store.apply_calls == 0
        await act(handle, "retry", "heal it")
        final = await handle.result()
    assert final.status == "COMPLETED" and store.apply_calls == 1
    assert store.statuses() == ["NEEDS_ATTENTION", "IN_PROGRESS", "COMPLETED"]


async def test_a_request_not_approved_before_its_deadline_is_rejected(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), approval=True, approval_timeout=3600)
        final = await handle.result()  # the time-skipping server jumps to the deadline
    assert final.status == "REJECTED" and store.apply_calls == 0
    assert store.statuses() == ["PENDING_APPROVAL", "REJECTED"]
    waiting, ended = sorted((s for s in store.steps.values() if s.status), key=lambda s: s.at)
    assert "a delete (risky)" in waiting.message and "within 1 h" in waiting.message
    assert ended.message.endswith("no approval in time (1 h)")


async def test_a_request_approved_in_time_goes_ahead(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), approval=True, approval_timeout=3600)
        state = await handle.query(DnsProvisioningWorkflow.state)
        while state.status != "PENDING_APPROVAL":
            state = await handle.query(DnsProvisioningWorkflow.state)
        await act(handle, "approve")
        final = await handle.result()
    assert final.status == "COMPLETED"


async def test_a_drift_request_retried_after_the_record_changed_through_dnsorch_applies_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(superseded_by="192.0.2.55 (TTL 300)")
    spec = dataclasses.replace(request_spec(), source="drift", operation="restore")
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, attention="drift: ns2 serves 192.0.2.99")
        state = await handle.query(DnsProvisioningWorkflow.state)
        while state.status != "NEEDS_ATTENTION":
            state = await handle.query(DnsProvisioningWorkflow.state)
        await act(handle, "retry", "heal it")
        final = await handle.result()
    assert final.status == "CANCELLED" and store.apply_calls == 0
    assert final.log[-1]["message"].endswith("superseded: dnsorch now records 192.0.2.55 (TTL 300)")


async def test_a_drift_request_whose_values_are_still_recorded_is_applied(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    spec = dataclasses.replace(request_spec(), source="drift", operation="restore")
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, spec)).result()
    assert final.status == "COMPLETED" and store.apply_calls == 1
    assert {step.actor for step in store.steps.values()} == {"drift"}  # the timeline says who acted


async def test_a_rollback_never_undoes_a_later_change_of_the_name(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Found by the soak (ENGINE=server SEED=303): a request waiting in NEEDS_ATTENTION let its name go;
    another request then changed the name (a delete), and the operator's rollback of the first
    restored its stale snapshot over it, so DNS served a record `dns_records` did not hold. At its
    turn the rollback asks the primary first: the name serves neither this change nor the snapshot,
    so it restores nothing and says why."""
    store = FakeStore(behind={SECONDARY}, plan=REPLACE)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        await past_the_deadline(time_skipping_env, store)
        store.plan = ChangePlan(
            "replace", old_values=["192.0.2.99"], new_values=["192.0.2.10"]
        )  # changed since
        await act(handle, "rollback", "undo it")
        await past_the_deadline(time_skipping_env, store, 2)
        state = await handle.query(DnsProvisioningWorkflow.state)
        await act(handle, "fail", "the later change stands")  # ends it: nothing left on the shared server
    assert [c.operation for c in store.applied] == ["create"], "no restore was sent"
    assert state.status == "NEEDS_ATTENTION"
    assert (state.last_error or "").startswith(
        "rollback refused: the primary serves 192.0.2.99 now, neither this change nor what the plan saw"
    )
