"""Scheduled changes (issue 26): a request with `not_before` waits in SCHEDULED on a durable timer;
nothing is planned or applied before its time; an operator can cancel or move it meanwhile.
Stub activities, time-skipping server."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import Reschedule
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, act, start, until_status, worker
from workflows.provisioning import DnsProvisioningWorkflow


def planned_at(store: FakeStore) -> datetime:
    return min(step.at for step in store.steps.values() if step.step == "plan")


async def test_a_scheduled_change_plans_and_applies_only_at_its_time(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    due = await time_skipping_env.get_current_time() + timedelta(hours=6)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dataclasses.replace(request_spec(), not_before=due))
        await until_status(store, "SCHEDULED")
        await time_skipping_env.sleep(5 * 3600)
        assert store.turns == [] and store.apply_calls == 0, "something ran before the scheduled time"
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.statuses()[:2] == ["SCHEDULED", "IN_PROGRESS"]
    assert planned_at(store) >= due
    # at its time: a plan for its approvers and the policy judged again, then the turn, the plan, the apply
    assert store.turns == ["plan", "judge", "take", "plan", "apply"]


async def test_a_scheduled_change_cancelled_before_its_time_touches_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    due = await time_skipping_env.get_current_time() + timedelta(days=2)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dataclasses.replace(request_spec(), not_before=due))
        await until_status(store, "SCHEDULED")
        assert await act(handle, "cancel", "not needed") == "CANCELLED"
        final = await handle.result()
    assert final.status == "CANCELLED" and store.turns == [] and store.apply_calls == 0


async def test_a_reschedule_moves_the_time_and_is_on_the_timeline(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    now = await time_skipping_env.get_current_time()
    first, later = now + timedelta(hours=1), now + timedelta(hours=30)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dataclasses.replace(request_spec(), not_before=first))
        await until_status(store, "SCHEDULED")
        moved = Reschedule(not_before=later, actor="alice", note="after the freeze")
        assert await handle.execute_update(DnsProvisioningWorkflow.reschedule, moved) == "SCHEDULED"
        final = await handle.result()
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):  # it already ran: nothing to move
            await handle.execute_update(DnsProvisioningWorkflow.reschedule, moved)
    assert final.status == "COMPLETED" and planned_at(store) >= later
    assert any(
        f"rescheduled by alice: after the freeze for {later.isoformat()}" in line["message"]
        for line in final.log
    )


async def test_a_reschedule_into_the_past_is_refused(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore()
    now = await time_skipping_env.get_current_time()
    async with worker(time_skipping_env, store):
        handle = await start(
            time_skipping_env, dataclasses.replace(request_spec(), not_before=now + timedelta(hours=2))
        )
        await until_status(store, "SCHEDULED")
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                DnsProvisioningWorkflow.reschedule,
                Reschedule(not_before=now - timedelta(hours=1), actor="bob"),
            )
        await act(handle, "cancel")
        await handle.result()


async def test_a_scheduled_change_that_needs_approval_asks_for_it_when_it_is_due(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    due = await time_skipping_env.get_current_time() + timedelta(hours=3)
    async with worker(time_skipping_env, store):
        spec = dataclasses.replace(request_spec(), not_before=due)
        handle = await start(time_skipping_env, spec, approval=True, approval_timeout=24 * 3600)
        await until_status(store, "SCHEDULED")
        with pytest.raises(WorkflowUpdateFailedError):  # not yet due: nothing to approve
            await act(handle, "approve")
        await time_skipping_env.sleep(3 * 3600 + 60)
        for _ in range(200):
            if "PENDING_APPROVAL" in store.statuses():
                break
            await asyncio.sleep(0.05)
        assert await act(handle, "approve", "looks right") in ("IN_PROGRESS", "COMPLETED")
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.statuses()[:3] == ["SCHEDULED", "PENDING_APPROVAL", "IN_PROGRESS"]
