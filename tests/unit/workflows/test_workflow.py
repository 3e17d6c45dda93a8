"""DnsProvisioningWorkflow's paths, with stub activities registered under the real names."""

from __future__ import annotations

import asyncio

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import StatusChange
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, start, worker
from workflows.provisioning import DnsProvisioningWorkflow


async def test_transient_failures_are_retried_until_the_record_is_served(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(apply_failures=[ApplicationError("SERVFAIL", type="DnsChangeFailed")] * 2)
    spec = request_spec()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec)
        state = await handle.result()
    assert state.status == "COMPLETED"
    assert store.apply_calls == 3
    assert store.statuses() == ["IN_PROGRESS", "COMPLETED"]
    assert list(store.records) == [spec.request_id]
    assert store.records[spec.request_id].target == "192.0.2.10"


async def test_manual_terminal_status_cancels_the_step_and_ends_the_request(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(block_apply=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        while store.apply_calls == 0:
            await asyncio.sleep(0.05)
        await handle.signal(
            DnsProvisioningWorkflow.update_status,
            StatusChange(status="FAILED", message="host retired", actor="alice"),
        )
        state = await handle.result()
    assert state.status == "FAILED"
    assert store.apply_cancelled
    assert store.statuses() == ["IN_PROGRESS", "FAILED"]
    manual = [s for s in store.steps.values() if s.actor == "alice"]
    assert len(manual) == 1 and "host retired" in manual[0].message
    assert not store.records


async def test_manual_non_terminal_status_is_a_note_and_provisioning_continues(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(block_apply=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        while store.apply_calls == 0:
            await asyncio.sleep(0.05)
        await handle.signal(
            DnsProvisioningWorkflow.update_status, StatusChange(status="PENDING", message="hold")
        )
        while not any("hold" in s.message for s in store.steps.values()):
            await asyncio.sleep(0.05)
        queried = await handle.query(DnsProvisioningWorkflow.state)
        assert queried.status == "IN_PROGRESS"
        store.block_apply = False
        state = await handle.result()
    assert state.status == "COMPLETED"
    assert store.statuses() == ["IN_PROGRESS", "COMPLETED"]
    note = next(s for s in store.steps.values() if "hold" in s.message)
    assert "manual status PENDING noted" in note.message


async def test_state_query_reports_status_and_log(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await handle.result()
        state = await handle.query(DnsProvisioningWorkflow.state)
    assert state.status == "COMPLETED"
    assert [entry["status"] for entry in state.log if entry["status"]] == ["IN_PROGRESS", "COMPLETED"]
    assert state.allowed_actions == []
    assert state.attempts == 1


async def test_workflow_id_is_derived_from_the_request_id(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    spec = request_spec()
    assert spec.workflow_id == f"dns-request-{spec.request_id}"
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec)
        await handle.result()
    assert handle.id == spec.workflow_id
