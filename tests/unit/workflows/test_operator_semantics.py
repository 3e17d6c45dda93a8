"""Exact operator semantics (issue 16): a manual status never wedges a workflow, and a final status
is recorded only once the playbook has really stopped."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import StatusChange
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, act, start, worker
from workflows.provisioning import DnsProvisioningWorkflow


async def _until_applying(store: FakeStore) -> None:
    while store.apply_calls == 0:
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("manual_status", "then"), [("PENDING_APPROVAL", "approve"), ("NEEDS_ATTENTION", "retry")]
)
async def test_a_manual_status_is_a_note_and_cannot_unlock_an_action_the_code_cannot_take(
    time_skipping_env: WorkflowEnvironment, manual_status: str, then: str
) -> None:
    store = FakeStore(block_apply=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await _until_applying(store)
        await handle.signal(
            DnsProvisioningWorkflow.update_status, StatusChange(manual_status, "looks odd", "carol")
        )
        while not any("looks odd" in s.message for s in store.steps.values()):
            await asyncio.sleep(0.05)
        state = await handle.query(DnsProvisioningWorkflow.state)
        assert state.status == "IN_PROGRESS", "a manual status moved the workflow into a state it is not in"
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await asyncio.wait_for(act(handle, then), timeout=10)
        assert f"cannot {then} a request that is IN_PROGRESS" in str(refused.value.cause)
        # The request still answers to operators: cancel ends it at once.
        assert await asyncio.wait_for(act(handle, "cancel"), timeout=10) == "CANCELLED"
        final = await handle.result()
    assert final.status == "CANCELLED"
    note = next(s for s in store.steps.values() if "looks odd" in s.message)
    assert note.status is None and note.actor == "carol"
    assert manual_status in note.message


async def test_a_final_status_is_recorded_only_after_the_playbook_has_stopped(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(block_apply=True, stop_delay=1.5)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await _until_applying(store)
        assert await act(handle, "fail", "host retired") == "FAILED"
        await handle.result()
    assert store.apply_stopped_at is not None
    failed = next(s for s in store.steps.values() if s.status == "FAILED")
    assert store.step_written_at[failed.entry_id] >= store.apply_stopped_at, (
        "FAILED was recorded while the playbook was still running"
    )


async def test_cancelling_in_temporal_waits_for_the_playbook_before_recording_cancelled(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(block_apply=True, stop_delay=1.5)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await _until_applying(store)
        await handle.cancel()
        while "CANCELLED" not in store.statuses():
            await asyncio.sleep(0.05)
    assert store.apply_stopped_at is not None
    cancelled = next(s for s in store.steps.values() if s.status == "CANCELLED")
    assert store.step_written_at[cancelled.entry_id] >= store.apply_stopped_at


@pytest.mark.parametrize("action", ["cancel", "fail"])
async def test_an_action_that_reaches_an_already_applied_change_ends_completed_and_says_so(
    time_skipping_env: WorkflowEnvironment, action: str
) -> None:
    store = FakeStore(block_apply=True, applied_despite_cancel=True)
    async with worker(time_skipping_env, store):
        spec = request_spec()
        handle = await start(time_skipping_env, spec)
        await _until_applying(store)
        assert await act(handle, action) == "COMPLETED"
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.statuses()[-1] == "COMPLETED"
    assert spec.request_id in store.records, "DNS serves the change, so its record must be stored"
    last = max(store.steps.values(), key=lambda s: s.at)
    assert f"{action} by " in last.message and "came too late" in last.message


async def test_a_temporal_cancel_that_reaches_an_already_applied_change_ends_completed(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(block_apply=True, applied_despite_cancel=True)
    async with worker(time_skipping_env, store):
        spec = request_spec()
        handle = await start(time_skipping_env, spec)
        await _until_applying(store)
        await handle.cancel()
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert spec.request_id in store.records
    assert store.statuses()[-1] == "COMPLETED"
