"""Approval of a scheduled change (issue 26; patch judged-when-due): at its time the request plans
against DNS as it is then and its approvers see that plan; the approval policy judges it again on the
zone as it is then; and a plan that changed again by its turn is approved again before it applies.
Stub activities, time-skipping server (tests/fixtures/workflow_stubs.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan, Judgement, OperatorAction
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, Handle, act, start, until_status, worker
from workflows.provisioning import DnsProvisioningWorkflow

DUE_IN = timedelta(hours=3)


async def held_when_due(env: WorkflowEnvironment, store: FakeStore, *, approval: bool) -> Handle:
    """An update due in DUE_IN, started with or without a hold at accept, run to PENDING_APPROVAL at
    its time."""
    due = await env.get_current_time() + DUE_IN
    spec = dataclasses.replace(request_spec(operation="update", target="192.0.2.20"), not_before=due)
    handle = await start(env, spec, approval=approval, approval_timeout=24 * 3600)
    await until_status(store, "SCHEDULED")
    await env.sleep(DUE_IN.total_seconds() + 60)
    await until_status(store, "PENDING_APPROVAL")
    return handle


async def approve(handle: Handle, key_id: str, actor: str) -> str:
    action = OperatorAction("approve", actor, key_id=key_id, account_id="acct-ops")
    return await handle.execute_update(DnsProvisioningWorkflow.act, action)


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
        assert store.turns == ["plan"], "only a plan for the approvers before the approval"
        assert await act(handle, "approve", "checked at its time") in ("IN_PROGRESS", "COMPLETED")
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.statuses()[:3] == ["SCHEDULED", "PENDING_APPROVAL", "IN_PROGRESS"]
    approved = next(s.at for s in store.steps.values() if s.status == "IN_PROGRESS")
    planned = sorted((s for s in store.steps.values() if s.step == "plan"), key=lambda s: s.at)
    assert [s.message.split(":")[0] for s in planned] == ["plan at its time", "plan"]
    assert all(s.at >= due for s in planned) and planned[1].at >= approved
    assert "replace" in planned[1].message and "192.0.2.7 → 192.0.2.20, TTL 600 → 300" in planned[1].message
    assert store.turns == ["plan", "take", "plan", "apply"]


async def test_approvers_of_a_scheduled_change_see_the_plan_of_its_time_before_they_approve(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(plan=ChangePlan("replace", ["192.0.2.7"], ["192.0.2.20"], 600, 300))
    async with worker(time_skipping_env, store):
        handle = await held_when_due(time_skipping_env, store, approval=True)
        seen_before_approval = "plan" in store.turns
        await act(handle, "cancel")
        await handle.result()
    assert seen_before_approval, "PENDING_APPROVAL at its time, but no plan of that time to judge"


async def test_a_change_routine_at_accept_but_risky_when_due_waits_for_approval(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(judgement=Judgement(True, ["TTL drops from 86400 to 60, below the floor of 300"], 2))
    async with worker(time_skipping_env, store):
        handle = await held_when_due(time_skipping_env, store, approval=False)  # routine at accept
        assert store.apply_calls == 0
        held = next(s for s in store.steps.values() if s.status == "PENDING_APPROVAL")
        assert "TTL drops from 86400 to 60" in held.message and "(judged at its time)" in held.message
        await approve(handle, "k-alice", "alice (operator)")
        assert store.apply_calls == 0, "its risk asks two approvers now"
        await approve(handle, "k-bob", "bob (operator)")
        final = await handle.result()
    assert final.status == "COMPLETED" and store.apply_calls == 1


async def test_a_plan_that_changed_after_the_approval_is_approved_again_before_it_applies(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(plan=ChangePlan("replace", ["192.0.2.7"], ["192.0.2.20"], 600, 300))
    async with worker(time_skipping_env, store):
        handle = await held_when_due(time_skipping_env, store, approval=True)
        # Another request changes the name between the approvers' look and this request's turn.
        store.plan = ChangePlan("replace", ["198.51.100.9"], ["192.0.2.20"], 600, 300)
        await act(handle, "approve", "192.0.2.7 may go")
        for _ in range(200):  # 10 s: it is held again, or it applied
            if store.statuses().count("PENDING_APPROVAL") == 2 or store.apply_calls:
                break
            await asyncio.sleep(0.05)
        assert store.apply_calls == 0, "applied a plan nobody approved"
        again = [s for s in store.steps.values() if s.status == "PENDING_APPROVAL"][-1]
        assert "the plan changed since it was approved" in again.message
        assert "192.0.2.7 → 192.0.2.20" in again.message and "198.51.100.9 → 192.0.2.20" in again.message
        await act(handle, "approve", "198.51.100.9 may go too")
        final = await handle.result()
    assert final.status == "COMPLETED" and store.apply_calls == 1
    assert store.statuses()[:5] == [
        "SCHEDULED",
        "PENDING_APPROVAL",
        "IN_PROGRESS",
        "PENDING_APPROVAL",
        "IN_PROGRESS",
    ]


async def test_an_unchanged_plan_is_not_approved_twice(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore(plan=ChangePlan("replace", ["192.0.2.7"], ["192.0.2.20"], 600, 300))
    async with worker(time_skipping_env, store):
        handle = await held_when_due(time_skipping_env, store, approval=True)
        await act(handle, "approve", "as planned")
        final = await handle.result()
    assert final.status == "COMPLETED" and store.statuses().count("PENDING_APPROVAL") == 1
