"""A fail after the change was sent asks the primary too (issue 22; patch `fail-asks-dns`): FAILED
must not stand beside a change DNS serves. Served → the plan's snapshot is restored and the request
ends FAILED saying so; untouched → FAILED as before. Stub primary, time-skipping."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.fixtures.steering import NEW, SERVFAIL, lagging_secondary, running, until_applying, until_attention
from tests.fixtures.workflow_stubs import BEFORE, Primary, act


async def test_a_fail_while_the_apply_is_in_flight_and_reaches_dns_restores_the_snapshot(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(hold_apply=True)
    async with running(time_skipping_env, store) as handle:
        await until_applying(store)
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
    store = lagging_secondary()
    async with running(time_skipping_env, store) as handle:
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
    store = Primary(fail_types={"A": SERVFAIL})
    async with running(time_skipping_env, store) as handle:
        await until_attention(time_skipping_env, store)
        assert await act(handle, "fail", "server broken") == "FAILED"
        final = await handle.result()
    assert final.status == "FAILED" and store.serves == [BEFORE]
    assert all(change.operation != "restore" for change in store.applied)
