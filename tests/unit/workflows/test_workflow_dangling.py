"""Dangling targets (issue 26): a CNAME, MX or SRV whose target does not resolve is named in the plan,
and where APPROVAL_RISKS lists `dangling_target` the request waits for a person's approval before
anything is applied. Time-skipping server, stub activities (tests/fixtures/workflow_stubs.py)."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan, DnsRequestSpec
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, act, start, until_status, worker

TARGET = "nowhere.example.test."


def mx_spec() -> DnsRequestSpec:
    return request_spec(record_type="MX", target=TARGET, priority=10)


def dangling_store() -> FakeStore:
    return FakeStore(plan=ChangePlan("add", new_values=[f"10 {TARGET}"], new_ttl=300, dangling=[TARGET]))


async def test_a_dangling_target_waits_for_approval_where_it_is_a_risk(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = dangling_store()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, mx_spec(), hold_dangling_targets=True)
        await until_status(store, "PENDING_APPROVAL")
        assert store.applied == [], "nothing is applied before a person approves"
        held = [step.message for step in store.steps.values() if step.status == "PENDING_APPROVAL"]
        waiting = "IN_PROGRESS → PENDING_APPROVAL: waiting for an operator's approval"
        assert held == [f"{waiting}: the target {TARGET} does not resolve"]
        assert await act(handle, "approve", "it is being built") in ("IN_PROGRESS", "COMPLETED")
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert len(store.applied) == 1
    assert store.turns.count("plan") == 2, "planned again under the name's next turn"


async def test_a_dangling_target_is_only_named_where_it_is_no_risk(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = dangling_store()
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, mx_spec())).result()
    assert final.status == "COMPLETED"
    assert "PENDING_APPROVAL" not in store.statuses()
    assert any(line["message"].endswith(f"the target {TARGET} does not resolve") for line in final.log)


async def test_a_request_approved_already_is_not_held_again_for_its_target(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = dangling_store()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, mx_spec(), approval=True, hold_dangling_targets=True)
        await until_status(store, "PENDING_APPROVAL")
        await act(handle, "approve", "seen the plan")
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.statuses().count("PENDING_APPROVAL") == 1
