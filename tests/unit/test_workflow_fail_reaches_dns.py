"""A fail after the change was sent asks the primary too (issue 22; patch `fail-asks-dns`): FAILED
must not stand beside a change DNS serves. Served → the plan's snapshot is restored and the request
ends FAILED saying so; untouched → FAILED as before. Stub primary, time-skipping."""

from __future__ import annotations

import asyncio

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import BEFORE, PROPAGATION_POLICY, SECONDARY, Primary, act, start, worker

NEW = "192.0.2.10"  # the request's value (request_spec)


async def until_attention(env: WorkflowEnvironment, store: Primary) -> None:
    for _ in range(200):
        if "NEEDS_ATTENTION" in store.statuses():
            return
        await env.sleep(PROPAGATION_POLICY.propagation_interval_seconds)
    raise AssertionError(f"never reached NEEDS_ATTENTION: {store.statuses()}")


async def test_a_fail_while_the_apply_is_in_flight_and_reaches_dns_restores_the_snapshot(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(hold_apply=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        for _ in range(400):
            if store.apply_calls:
                break
            await asyncio.sleep(0.05)
        assert await act(handle, "fail", "the team gave up") == "FAILED"
        final = await handle.result()
    assert final.status == "FAILED"
    assert store.serves == [BEFORE], f"FAILED, but the primary serves {store.serves}"
    assert (store.applied[-1].operation, store.applied[-1].values) == ("restore", [BEFORE])
    assert not store.records
    assert "had reached DNS" in final.log[-1]["message"] and BEFORE in final.log[-1]["message"]


async def test_a_fail_in_needs_attention_with_the_change_on_the_primary_restores_the_snapshot(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(behind={SECONDARY}, behind_serves=[BEFORE])
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        await until_attention(time_skipping_env, store)
        assert store.serves == [NEW]
        assert await act(handle, "fail", "no time to chase ns2") == "FAILED"
        final = await handle.result()
    assert final.status == "FAILED"
    assert store.serves == [BEFORE]
    assert "failed by alice: no time to chase ns2: the change had reached DNS" in final.log[-1]["message"]


async def test_a_fail_where_the_primary_is_untouched_ends_failed_and_restores_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(fail_types={"A": ApplicationError("SERVFAIL", type="DnsChangeFailed")})
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), policy=PROPAGATION_POLICY)
        await until_attention(time_skipping_env, store)
        assert await act(handle, "fail", "server broken") == "FAILED"
        final = await handle.result()
    assert final.status == "FAILED" and store.serves == [BEFORE]
    assert all(change.operation != "restore" for change in store.applied)
