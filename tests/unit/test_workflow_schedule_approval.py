"""Approval of a scheduled change (issue 26): approvers judge the change when it is due, and what it
applies is planned against DNS as it is then, never as it was at accept. Stub activities,
time-skipping server (tests/fixtures/workflow_stubs.py)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, act, start, until_status, worker

DUE_IN = timedelta(hours=3)


async def test_a_scheduled_change_is_approved_when_due_and_applies_the_plan_of_that_time(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    due = await time_skipping_env.get_current_time() + DUE_IN
    spec = dataclasses.replace(request_spec(operation="update", target="192.0.2.20"), not_before=due)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, approval=True, approval_timeout=24 * 3600)
        await until_status(store, "SCHEDULED")
        with pytest.raises(WorkflowUpdateFailedError):  # nobody approves a change before it is due
            await act(handle, "approve")
        # DNS changes while the request waits: the plan must read it at the request's time.
        store.plan = ChangePlan("replace", ["192.0.2.7"], ["192.0.2.20"], 600, 300)
        await time_skipping_env.sleep(DUE_IN.total_seconds() + 60)
        await until_status(store, "PENDING_APPROVAL")
        assert store.turns == [], "nothing was planned or applied before the approval"
        assert await act(handle, "approve", "checked at its time") in ("IN_PROGRESS", "COMPLETED")
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.statuses()[:3] == ["SCHEDULED", "PENDING_APPROVAL", "IN_PROGRESS"]
    approved = next(s.at for s in store.steps.values() if s.status == "IN_PROGRESS")
    planned = [s for s in store.steps.values() if s.step == "plan"]
    assert planned and all(s.at >= due and s.at >= approved for s in planned)
    assert "replace" in planned[0].message and "192.0.2.7 → 192.0.2.20, TTL 600 → 300" in planned[0].message
    assert store.turns == ["take", "plan", "apply"]


@pytest.mark.xfail(
    strict=True,
    reason="gap (report to the lead): a held request waits for approval before its plan, so its "
    "approvers never see the plan of its time; workflows/provisioning.py decides the order",
)
async def test_approvers_of_a_scheduled_change_see_the_plan_of_its_time_before_they_approve(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(plan=ChangePlan("replace", ["192.0.2.7"], ["192.0.2.20"], 600, 300))
    due = await time_skipping_env.get_current_time() + DUE_IN
    spec = dataclasses.replace(request_spec(operation="update", target="192.0.2.20"), not_before=due)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, approval=True, approval_timeout=24 * 3600)
        await until_status(store, "SCHEDULED")
        await time_skipping_env.sleep(DUE_IN.total_seconds() + 60)
        await until_status(store, "PENDING_APPROVAL")
        seen_before_approval = "plan" in store.turns
        await act(handle, "cancel")
        await handle.result()
    assert seen_before_approval, "PENDING_APPROVAL at its time, but no plan of that time to judge"
