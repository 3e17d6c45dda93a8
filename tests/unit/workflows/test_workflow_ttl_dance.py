"""The TTL dance (issue 26): an update lowers the served TTL, waits out the old one on a durable timer,
moves at the short TTL and restores the request's TTL; a cancel in the middle restores the old TTL.
Stub primary (tests/fixtures/workflow_stubs.py), time-skipping server."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan, DnsRequestSpec, LogStep
from tests.fixtures.specs import request_spec
from tests.fixtures.steering import NEW, lagging_secondary
from tests.fixtures.workflow_stubs import BEFORE, PROPAGATION_POLICY, FakeStore, Primary, act, start, worker

OLD_TTL = 3600


def dancing_update(**fields: object) -> DnsRequestSpec:
    """An update of BEFORE (served with OLD_TTL by the stub primary) to NEW at TTL 300."""
    return dataclasses.replace(request_spec(operation="update", ttl_dance=True), **fields)


def dance_lines(store: FakeStore) -> list[LogStep]:
    return sorted((s for s in store.steps.values() if s.step == "ttl-dance"), key=lambda s: s.at)


async def until_line(store: FakeStore, text: str, env: WorkflowEnvironment | None = None) -> None:
    """Poll the timeline; with `env`, skip a minute of durable timers between two looks."""
    for _ in range(400):
        if any(text in s.message for s in store.steps.values()):
            return
        await (env.sleep(60) if env is not None else asyncio.sleep(0.05))
    raise AssertionError(f"no line with {text!r}: {[s.message for s in store.steps.values()]}")


async def test_a_dance_lowers_the_ttl_waits_out_the_old_one_moves_and_restores_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(ttl=OLD_TTL)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dancing_update(), short_ttl=60)
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert [(c.operation, c.values, c.ttl) for c in store.applied] == [
        ("restore", [BEFORE], 60),
        ("update", [NEW], 60),
        ("update", [NEW], 300),
    ]
    assert (store.serves, store.ttl) == ([NEW], 300)
    (record,) = store.records.values()
    assert (record.target, record.ttl) == (NEW, 300), "dns_records must say what DNS serves"
    lines = dance_lines(store)
    assert [line.message[:13] for line in lines[:5]] == [f"TTL dance {n}/5" for n in range(1, 6)]
    waited = lines[2].at - lines[1].at
    assert timedelta(seconds=OLD_TTL) <= waited < timedelta(seconds=OLD_TTL + 60), waited


async def test_a_cancel_during_the_wait_restores_the_old_ttl(time_skipping_env: WorkflowEnvironment) -> None:
    store = Primary(ttl=OLD_TTL)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dancing_update(), short_ttl=60)
        await until_line(store, "TTL dance 2/5")
        assert store.ttl == 60, "the TTL is lowered before the wait"
        assert await act(handle, "cancel", "not today") == "CANCELLED"
        final = await handle.result()
    assert final.status == "CANCELLED"
    assert (store.serves, store.ttl) == ([BEFORE], OLD_TTL), "CANCELLED must leave the old record, old TTL"
    assert [(c.operation, c.ttl) for c in store.applied] == [("restore", 60), ("restore", OLD_TTL)]
    assert not store.records
    assert "TTL dance had lowered the TTL; restored 192.0.2.1 at TTL 3600" in final.log[-1]["message"]


async def test_a_failed_verification_waits_for_an_operator_and_a_rollback_restores_the_old_ttl(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = lagging_secondary()  # serves BEFORE (at any TTL) but never NEW
    store.ttl = OLD_TTL
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dancing_update(), policy=PROPAGATION_POLICY)
        await until_line(store, "verification failed", time_skipping_env)
        assert await act(handle, "rollback", "secondary is stuck") in ("IN_PROGRESS", "ROLLED_BACK")
        final = await handle.result()
    assert final.status == "ROLLED_BACK"
    assert (store.serves, store.ttl) == ([BEFORE], OLD_TTL)
    assert not store.records


async def test_an_update_over_the_threshold_dances_unasked_and_one_under_it_does_not(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    for store, dances in ((Primary(ttl=OLD_TTL), True), (Primary(ttl=600), False)):
        async with worker(time_skipping_env, store):
            spec = dancing_update(ttl_dance=False)
            final = await (await start(time_skipping_env, spec, ttl_dance_threshold=1800)).result()
        assert final.status == "COMPLETED"
        assert bool(dance_lines(store)) == dances
        assert len(store.applied) == (3 if dances else 1)


async def test_a_dry_run_shows_the_dance_in_its_plan_and_applies_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(ttl=OLD_TTL)
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, dancing_update(dry_run=True))).result()
    assert final.status == "COMPLETED" and not store.applied
    (plan,) = [s for s in store.steps.values() if s.step == "plan"]
    assert "TTL dance: 1. lower the TTL 3600 → 60" in plan.message
    assert plan.plan is not None and plan.plan["ttl_dance"][1] == "wait out the old TTL (3600 s)"


async def test_a_cancel_in_temporal_during_the_wait_restores_the_old_ttl(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(ttl=OLD_TTL)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dancing_update(), short_ttl=60)
        await until_line(store, "TTL dance 2/5")
        await handle.cancel()
        final = await handle.result()
    assert final.status == "CANCELLED"
    assert (store.serves, store.ttl) == ([BEFORE], OLD_TTL)
    assert "cancelled in Temporal: the TTL dance had lowered the TTL" in final.log[-1]["message"]


async def test_a_lowering_that_fails_waits_for_an_operator_and_a_retry_dances_on(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(ttl=OLD_TTL, fail_types={"A": ApplicationError("SERVFAIL", type="DnsChangeFailed")})
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dancing_update(), short_ttl=60)
        await until_line(store, "needs an operator")
        assert (store.serves, store.ttl) == ([BEFORE], OLD_TTL)
        store.fail_types = {}
        await act(handle, "retry", "primary is back")
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert (store.serves, store.ttl) == ([NEW], 300)
    assert [(c.operation, c.ttl) for c in store.applied[-3:]] == [
        ("restore", 60),
        ("update", 60),
        ("update", 300),
    ]


async def test_a_request_that_asks_but_has_nothing_to_wait_out_moves_at_once_saying_why(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    short = Primary(ttl=30)
    ttl_only = FakeStore(plan=ChangePlan("replace", [NEW], [NEW], old_ttl=OLD_TTL, new_ttl=300))
    for store, why in (
        (short, "no TTL dance: the served TTL (30 s) is not above the short TTL (60 s)"),
        (ttl_only, "no TTL dance: only the TTL changes"),
    ):
        async with worker(time_skipping_env, store):
            final = await (await start(time_skipping_env, dancing_update())).result()
        assert final.status == "COMPLETED" and len(store.applied) == 1 and not dance_lines(store)
        (plan,) = [s.message for s in store.steps.values() if s.step == "plan"]
        assert plan.endswith(why), plan


async def test_a_scheduled_dance_approved_when_due_dances_at_its_time(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = Primary(ttl=OLD_TTL)
    due = await time_skipping_env.get_current_time() + timedelta(hours=2)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dancing_update(not_before=due), approval=True)
        await until_line(store, "waiting for an operator's approval", time_skipping_env)
        await act(handle, "approve", "move it")
        final = await handle.result()
    assert final.status == "COMPLETED", final.log[-1]
    assert (store.serves, store.ttl) == ([NEW], 300)
    assert [line.message[:13] for line in dance_lines(store)[:5]] == [f"TTL dance {n}/5" for n in range(1, 6)]


async def test_a_cancel_whose_lowering_was_applied_anyway_restores_the_old_ttl(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Step 1's batch was already running when the cancel came: that is no "came too late" for the
    change, which never went out; DNS serves the old value at the short TTL, and the cancel restores
    the old TTL."""
    store = Primary(ttl=OLD_TTL, hold_at_ttl=60, applied_despite_cancel=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dancing_update(), short_ttl=60)
        await until_line(store, "TTL dance 1/5")
        while not store.applied:
            await asyncio.sleep(0.05)
        await act(handle, "cancel", "not today")
        final = await handle.result()
    assert final.status == "CANCELLED", final.log[-1]["message"]
    assert (store.serves, store.ttl) == ([BEFORE], OLD_TTL), "CANCELLED must leave the old record, old TTL"
    assert not store.records


async def test_a_cancel_during_the_restore_records_the_ttl_dns_serves(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """A cancel in Temporal stops step 5 before its UPDATE went out: the change stands (served
    everywhere), at the short TTL, and dns_records must say so, not the TTL the request asked for."""
    store = Primary(ttl=OLD_TTL, hold_at_ttl=300)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, dancing_update(), short_ttl=60)
        await until_line(store, "TTL dance 2/5")
        await time_skipping_env.sleep(OLD_TTL)  # to the end of the wait: an apply in flight stops the clock
        while not any(c.ttl == 300 for c in store.applied):
            await asyncio.sleep(0.05)
        await handle.cancel()  # from the Temporal UI: an operator's cancel is refused once served everywhere
        final = await handle.result()
    assert final.status == "COMPLETED", final.log[-1]["message"]
    assert (store.serves, store.ttl) == ([NEW], 60)
    (record,) = store.records.values()
    assert (record.target, record.ttl) == (NEW, 60), "dns_records must say what DNS serves"


async def test_the_attention_deadline_restores_the_old_ttl_before_it_fails(
    own_time_skipping_env: WorkflowEnvironment,
) -> None:
    """Nobody acted on a dance stuck at step 4: FAILED at the deadline must not leave the short TTL
    (nor the new value) behind."""
    store = lagging_secondary()  # serves BEFORE (at any TTL) but never NEW
    store.ttl = OLD_TTL
    env = own_time_skipping_env
    async with worker(env, store):
        handle = await start(env, dancing_update(), policy=PROPAGATION_POLICY, short_ttl=60)
        await until_line(store, "verification failed", env)
        final = await handle.result()  # skips to the attention deadline
    assert final.status == "FAILED", final.log[-1]["message"]
    assert (store.serves, store.ttl) == ([BEFORE], OLD_TTL)
    assert not store.records
