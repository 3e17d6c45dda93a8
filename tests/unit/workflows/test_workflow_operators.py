"""Operators steering DnsProvisioningWorkflow: NEEDS_ATTENTION and its actions, approval, cancel,
and illegal changes refused before they reach the history."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan, StatusChange
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, Handle, act, start, until_status, worker
from workflows.provisioning import DnsProvisioningWorkflow

UNREACHABLE = ApplicationError("server unreachable", type="DnsChangeFailed")


async def exhausted(env: WorkflowEnvironment, store: FakeStore) -> Handle:
    """A request whose Ansible step has failed all its attempts: it waits in NEEDS_ATTENTION."""
    handle = await start(env, request_spec())
    await until_status(store, "NEEDS_ATTENTION")
    return handle


async def test_exhausted_retries_wait_for_an_operator_and_retry_completes(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(apply_failures=[UNREACHABLE] * 3)
    async with worker(time_skipping_env, store):
        handle = await exhausted(time_skipping_env, store)
        state = await handle.query(DnsProvisioningWorkflow.state)
        assert state.status == "NEEDS_ATTENTION" and "server unreachable" in (state.last_error or "")
        assert state.allowed_actions == ["cancel", "fail", "resolve", "retry", "rollback"]
        assert await act(handle, "retry", "DNS server is back") in {"IN_PROGRESS", "COMPLETED"}
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.apply_calls == 4
    assert store.statuses() == ["IN_PROGRESS", "NEEDS_ATTENTION", "IN_PROGRESS", "COMPLETED"]
    assert any(s.actor == "alice" and "DNS server is back" in s.message for s in store.steps.values())


@pytest.mark.parametrize(
    ("action", "final", "record_stored"),
    [
        ("resolve", "COMPLETED", True),
        ("fail", "FAILED", False),
        ("cancel", "CANCELLED", False),
    ],
)
async def test_each_attention_action_ends_the_request(
    time_skipping_env: WorkflowEnvironment, action: str, final: str, record_stored: bool
) -> None:
    store = FakeStore(apply_failures=[UNREACHABLE] * 3)
    async with worker(time_skipping_env, store):
        handle = await exhausted(time_skipping_env, store)
        if action == "resolve":  # a resolve needs DNS to serve the change: fixed by hand
            store.plan = ChangePlan("unchanged", new_values=["192.0.2.10"], new_ttl=300)
        assert await act(handle, action, "fixed by hand") == final
        state = await handle.result()
    assert state.status == final
    assert store.apply_calls == 3
    assert bool(store.records) is record_stored
    last = sorted(store.steps.values(), key=lambda s: s.at)[-1]
    assert (last.status, last.actor, last.previous) == (final, "alice", "NEEDS_ATTENTION")
    assert "fixed by hand" in last.message


async def test_without_an_action_before_the_deadline_the_request_fails(
    own_time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(apply_failures=[UNREACHABLE] * 3)
    async with worker(own_time_skipping_env, store):
        handle = await exhausted(own_time_skipping_env, store)
        state = await handle.result()  # the test server skips the 7-day wait
    assert state.status == "FAILED"
    assert store.statuses()[-2:] == ["NEEDS_ATTENTION", "FAILED"]
    assert "deadline" in sorted(store.steps.values(), key=lambda s: s.at)[-1].message


async def test_a_rejected_change_goes_to_attention_after_one_attempt(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(
        apply_failures=[ApplicationError("TSIG BADKEY", type="DnsChangeRejected", non_retryable=True)]
    )
    async with worker(time_skipping_env, store):
        handle = await exhausted(time_skipping_env, store)
        await act(handle, "fail")
        await handle.result()
    assert store.apply_calls == 1
    attention = [s for s in store.steps.values() if s.status == "NEEDS_ATTENTION"]
    assert "BADKEY" in attention[0].message


@pytest.mark.parametrize(
    ("error_type", "reason"),
    [
        ("DnsChangeConflict", "A x.example.test already exists on the DNS server: use update"),
        ("NameOwnedByAnotherAccount", "x.example.test belongs to another account"),
    ],
)
async def test_a_change_the_data_refuses_ends_rejected_at_once_without_waiting_for_an_operator(
    time_skipping_env: WorkflowEnvironment, error_type: str, reason: str
) -> None:
    store = FakeStore(apply_failures=[ApplicationError(reason, type=error_type, non_retryable=True)])
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, request_spec())).result()
    assert final.status == "REJECTED"
    assert store.apply_calls == 1
    assert store.statuses() == ["IN_PROGRESS", "REJECTED"]
    rejected = next(s for s in store.steps.values() if s.status == "REJECTED")
    assert reason in rejected.message and store.records == {}


async def test_approval_gate_waits_then_approve_provisions(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), approval=True)
        await until_status(store, "PENDING_APPROVAL")
        assert store.apply_calls == 0
        await act(handle, "approve")
        state = await handle.result()
    assert state.status == "COMPLETED"
    assert store.statuses() == ["PENDING_APPROVAL", "IN_PROGRESS", "COMPLETED"]


async def test_rejected_request_never_touches_dns(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), approval=True)
        await until_status(store, "PENDING_APPROVAL")
        assert await act(handle, "reject", "not our zone policy") == "REJECTED"
        await handle.result()
    assert store.apply_calls == 0
    assert store.statuses() == ["PENDING_APPROVAL", "REJECTED"]


async def test_cancel_during_the_playbook_kills_it(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore(block_apply=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        while store.apply_calls == 0:
            await asyncio.sleep(0.05)
        assert await act(handle, "cancel") == "CANCELLED"
        state = await handle.result()
    assert state.status == "CANCELLED"
    assert store.apply_cancelled
    assert not store.records


async def test_illegal_changes_are_refused_and_never_reach_the_history(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(block_apply=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        while store.apply_calls == 0:
            await asyncio.sleep(0.05)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, "approve")
        assert "cannot approve a request that is IN_PROGRESS" in str(refused.value.cause)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                DnsProvisioningWorkflow.set_status, StatusChange("PENDING", "", "bob")
            )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                DnsProvisioningWorkflow.set_status, StatusChange("REJECTED", "", "bob")
            )
        assert (
            await handle.execute_update(
                DnsProvisioningWorkflow.set_status, StatusChange("FAILED", "wrong host", "bob")
            )
            == "FAILED"
        )
        await handle.result()
        history = await handle.fetch_history()
    accepted = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert len(accepted) == 1, "a refused update reached the history"
    assert store.statuses() == ["IN_PROGRESS", "FAILED"]


async def test_cancelling_the_workflow_in_temporal_records_cancelled(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(block_apply=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        while store.apply_calls == 0:
            await asyncio.sleep(0.05)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as ended:
            await handle.result()
        assert isinstance(ended.value.cause, CancelledError)
    assert store.statuses() == ["IN_PROGRESS", "CANCELLED"]
    assert store.apply_cancelled
