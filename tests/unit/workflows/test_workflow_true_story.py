"""One true story per request (issue 22, items 6-8): a final status never contradicts what DNS serves,
and dnsorch's record says what DNS serves. Stub servers, time-skipping timers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan, OperatorAction, StatusChange
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import (
    PROPAGATION_POLICY,
    SECONDARY,
    FakeStore,
    Handle,
    act,
    start,
    until_status,
    worker,
)
from workflows.provisioning import DnsProvisioningWorkflow

BEFORE = "192.0.2.1"  # what DNS served before the request: the snapshot
REPLACE = ChangePlan("replace", old_values=[BEFORE], new_values=["192.0.2.10"], old_ttl=600, new_ttl=300)
# What a retry's plan sees once the first attempt's change is served: the request's own value.
AFTER_FIRST_APPLY = ChangePlan(
    "unchanged", old_values=["192.0.2.10"], new_values=["192.0.2.10"], old_ttl=300, new_ttl=300
)
REVERSE = ["2.0.192.in-addr.arpa"]
OWNED = ApplicationError("the PTR belongs to another account", type="NameOwnedByAnotherAccount")
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "REJECTED", "ROLLED_BACK"}


async def until(env: WorkflowEnvironment, store: FakeStore, done: Callable[[], bool]) -> None:
    """Skip durable timers (verification's) until `done`."""
    for _ in range(200):
        if done():
            return
        await env.sleep(PROPAGATION_POLICY.propagation_interval_seconds)
    raise AssertionError(f"never reached: {store.statuses()}")


def attention(store: FakeStore, count: int) -> Callable[[], bool]:
    return lambda: store.statuses().count("NEEDS_ATTENTION") >= count


def last_line(store: FakeStore) -> str:
    """The latest line; of lines made at the same moment, the one written last."""
    return max(reversed(store.steps.values()), key=lambda s: s.at).message


async def rolling_back(env: WorkflowEnvironment, store: FakeStore) -> Handle:
    """A change a secondary does not serve, whose operator's rollback is in its restore batch."""
    handle = await start(env, request_spec(), policy=PROPAGATION_POLICY)
    await until(env, store, attention(store, 1))
    store.behind_serves = [BEFORE]
    store.block_apply, store.applied_despite_cancel = True, True  # the restore's batch runs all the same
    await act(handle, "rollback", "secondary lags")
    while store.apply_calls < 2:
        await asyncio.sleep(0.05)
    assert store.applied[-1].operation == "restore"
    return handle


# ---- item 6: a rollback never records the new value ---------------------------------------------


@pytest.mark.parametrize("action", ["cancel", "fail"])
async def test_an_action_that_reaches_a_rollback_whose_restore_ran_ends_rolled_back_without_the_new_value(
    time_skipping_env: WorkflowEnvironment, action: str
) -> None:
    store = FakeStore(behind={SECONDARY}, plan=REPLACE)
    async with worker(time_skipping_env, store):
        handle = await rolling_back(time_skipping_env, store)
        assert await act(handle, action, "stop it") == "ROLLED_BACK"
        final = await handle.result()
    assert final.status == "ROLLED_BACK"
    assert not store.records, "DNS serves the snapshot: the request's new value must not be recorded"
    assert f"{action} by alice" in last_line(store) and BEFORE in last_line(store)


async def test_a_temporal_cancel_that_reaches_a_rollback_whose_restore_ran_ends_rolled_back(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(behind={SECONDARY}, plan=REPLACE)
    async with worker(time_skipping_env, store):
        handle = await rolling_back(time_skipping_env, store)
        await handle.cancel()
        final = await handle.result()
    assert final.status == "ROLLED_BACK"
    assert not store.records
    assert store.statuses()[-1] == "ROLLED_BACK"


async def test_a_cancel_after_a_restore_not_yet_served_everywhere_ends_rolled_back(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(behind={SECONDARY}, plan=REPLACE)  # the secondary serves neither value
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        await until(time_skipping_env, store, attention(store, 1))
        await act(handle, "rollback")
        await until(time_skipping_env, store, attention(store, 2))
        assert await act(handle, "cancel", "enough") == "ROLLED_BACK"
        await handle.result()
    assert not store.records
    assert "rollback not served everywhere" in last_line(store) and BEFORE in last_line(store)


# ---- item 7: once the change is served everywhere, cancel and fail are too late -------------------


async def test_cancel_and_fail_after_a_ptr_failed_are_refused_as_too_late(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(fail_types={"PTR": OWNED})
    spec = request_spec()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, reverse_zones=REVERSE)
        await until_status(store, "NEEDS_ATTENTION")
        state = await handle.query(DnsProvisioningWorkflow.state)
        assert state.allowed_actions == ["resolve", "retry", "rollback"]
        for action in ("cancel", "fail"):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await act(handle, action)
            assert "too late" in str(refused.value.cause) and "rollback" in str(refused.value.cause)
        # Signals (the Temporal UI's, API v1's manual status) cannot be refused: they are logged.
        await handle.signal(DnsProvisioningWorkflow.action, OperatorAction("cancel", "bob", ""))
        await handle.signal(DnsProvisioningWorkflow.update_status, StatusChange("FAILED", "", "carol"))
        while sum("too late" in s.message for s in store.steps.values()) < 2:
            await asyncio.sleep(0.05)
        assert (await handle.query(DnsProvisioningWorkflow.state)).status == "NEEDS_ATTENTION"
        assert await act(handle, "resolve", "PTR kept by hand") == "COMPLETED"
    assert spec.request_id in store.records


async def test_a_request_whose_ptr_failed_completes_at_the_deadline_with_its_record(
    own_time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(fail_types={"PTR": OWNED})
    spec = request_spec()
    async with worker(own_time_skipping_env, store):
        handle = await start(own_time_skipping_env, spec, reverse_zones=REVERSE)
        final = await handle.result()  # the test server skips the 7-day wait
    assert final.status == "COMPLETED"
    assert spec.request_id in store.records
    assert "deadline" in last_line(
        store
    ) and "PTR 10.2.0.192.in-addr.arpa (restore): not applied" in last_line(store)


# ---- item 8: the snapshot and the old values are fixed at the first plan --------------------------


async def test_a_rollback_after_a_retry_restores_what_the_first_plan_saw(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(behind={SECONDARY}, plan=REPLACE)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        await until(time_skipping_env, store, attention(store, 1))
        store.plan = AFTER_FIRST_APPLY
        await act(handle, "retry")
        await until(time_skipping_env, store, attention(store, 2))
        store.behind_serves = [BEFORE]
        await act(handle, "rollback")
        await until(
            time_skipping_env, store, lambda: bool(FINAL & set(store.statuses())) or attention(store, 3)()
        )
    restore = store.applied[-1]
    assert (restore.operation, restore.values, restore.ttl) == ("restore", [BEFORE], 600)
    assert store.statuses()[-1] == "ROLLED_BACK"
    assert f"what it served before: {BEFORE}" in last_line(store)


async def test_a_retry_after_a_ptr_failure_still_removes_the_old_addresss_ptr(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(plan=REPLACE, fail_types={"PTR": OWNED})
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), reverse_zones=REVERSE)
        await until_status(store, "NEEDS_ATTENTION")
        store.plan, store.fail_types = AFTER_FIRST_APPLY, {}
        await act(handle, "retry", "PTR released")
        final = await handle.result()
    assert final.status == "COMPLETED"
    ptrs = [(c.operation, c.domain) for c in store.applied if c.record_type == "PTR"]
    assert ("delete", "1.2.0.192.in-addr.arpa") in ptrs, f"the old address keeps its PTR: {ptrs}"
