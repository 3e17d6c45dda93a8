"""The name's turn comes first (patch `turn-before-plan`): the drift check and the plan read DNS
only while the request holds the name, and waiting for the turn is its own activity, outside the
apply's timeout and retries, which an operator's cancel stops."""

from __future__ import annotations

import asyncio
import dataclasses

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, Primary, act, start, until_status, worker

AHEAD = "0b5c1b9e-0000-4000-8000-000000000001"


async def until_waiting(store: FakeStore) -> None:
    for _ in range(400):
        if "wait" in store.turns:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never waited for the turn: {store.turns}")


async def test_a_drift_request_checks_what_is_recorded_only_once_it_holds_the_name(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Issue 22, item 10: the owner's update held the name; the drift request found its old value
    still recorded, waited, then restored it over the owner's update. Now it checks at its turn."""
    store = FakeStore(ahead=AHEAD)
    spec = dataclasses.replace(request_spec(), source="drift", operation="restore")
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec)
        await until_waiting(store)
        assert "superseded" not in store.turns, "the drift check ran before the request held the name"
        store.superseded_by = "192.0.2.77 (TTL 300)"  # the owner's update completed, then let go
        store.ahead = ""
        final = await handle.result()
    assert final.status == "CANCELLED" and store.apply_calls == 0
    assert final.log[-1]["message"].endswith("superseded: dnsorch now records 192.0.2.77 (TTL 300)")
    assert store.turns == ["take", "wait", "superseded"]
    waiting = [step.message for step in store.steps.values() if step.step == "turn"]
    assert waiting == [f"waiting for request {AHEAD}, which changes {spec.domain} first"]


async def test_the_plan_reads_dns_once_the_request_holds_the_name(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(ahead=AHEAD)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await until_waiting(store)
        await asyncio.sleep(0.5)
        assert "plan" not in store.turns
        store.ahead = ""
        final = await handle.result()
    assert final.status == "COMPLETED"
    # fewer-steps-to-apply: after the wait, the turn (now only renewed) and the plan in one step
    assert store.turns == ["take", "wait", "take", "plan", "apply"]


async def test_a_free_name_costs_one_local_activity_and_no_wait(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, request_spec())).result()
    assert final.status == "COMPLETED"
    assert store.turns == ["take", "plan", "apply"]


async def test_a_cancel_while_waiting_for_the_turn_ends_the_request_and_its_wait(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(ahead=AHEAD)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await until_waiting(store)
        await act(handle, "cancel", "not needed any more")
        final = await handle.result()
        await until_status(store, "CANCELLED")
        for _ in range(100):  # the wait was cancelled, and stopped
            if store.turn_waits_stopped:
                break
            await asyncio.sleep(0.05)
    assert final.status == "CANCELLED" and store.apply_calls == 0
    assert store.turn_waits_stopped == 1


async def test_a_request_refused_at_its_first_claim_ends_rejected_and_lets_the_name_go(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Found by the soak (N=1000, seeds 101, 202, 303; soak/regressions/refused_at_first_turn.json):
    the owner changed after accept (a transfer), the first claim refused the request, and the
    workflow failed without a final status: its row stayed IN_PROGRESS, holding the name for an
    hour, and every later request on the name waited past its deadline. A local activity's
    failure reaches the workflow as the ApplicationError itself, which `_take_turn` let through."""
    owned = ApplicationError(
        "lab.example.test belongs to another account", type="NameOwnedByAnotherAccount", non_retryable=True
    )
    store = FakeStore(turn_refusal=owned)
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, request_spec())).result()
    assert final.status == "REJECTED" and store.apply_calls == 0
    assert store.statuses()[-1] == "REJECTED"  # written: the name's claim goes with this status
    assert "belongs to another account" in final.log[-1]["message"]


async def test_a_retry_refused_at_its_turn_after_the_change_was_served_everywhere_keeps_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Found by the soak (SEED=101 N=1000): acct-a's update was served everywhere, its PTR was
    refused, and while it waited in NEEDS_ATTENTION an operator granted the name to acct-b. The
    operator's retry was refused at the name's turn and the request ended REJECTED while DNS served
    its update. The change stands (the primary still serves it): COMPLETED, stored, saying why."""
    refused = ApplicationError("the PTR belongs to another account", type="NameOwnedByAnotherAccount")
    store = Primary(fail_types={"PTR": refused})
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), reverse_zones=["2.0.192.in-addr.arpa"])
        await until_status(store, "NEEDS_ATTENTION")
        store.turn_refusal = ApplicationError(
            "the name belongs to another account", type="NameOwnedByAnotherAccount", non_retryable=True
        )
        await act(handle, "retry", "try the PTR again")
        final = await handle.result()
    assert final.status == "COMPLETED", final.log[-1]["message"]
    assert len(store.records) == 1  # the forward record DNS serves
    assert "served by every authoritative server" in final.log[-1]["message"]


async def test_a_retry_refused_at_its_turn_whose_served_change_was_replaced_since_is_rejected(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """Found by the soak (SEED=19 N=300): the change was served everywhere, a retry was needed, and
    meanwhile another account's request replaced the record (and deleted its PTR). The retry was
    refused at the name's turn and the request ended COMPLETED with its record stored, while DNS
    served the other value: `dns_records` then disagreed with DNS, and drift "healed" it. The primary
    is asked first: it no longer serves the change, so nothing of it stands."""
    refused = ApplicationError("the PTR belongs to another account", type="NameOwnedByAnotherAccount")
    store = Primary(fail_types={"PTR": refused})
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), reverse_zones=["2.0.192.in-addr.arpa"])
        await until_status(store, "NEEDS_ATTENTION")
        store.serves = ["192.0.2.99"]  # another account's request replaced the record since
        store.turn_refusal = ApplicationError(
            "the name belongs to another account", type="NameOwnedByAnotherAccount", non_retryable=True
        )
        await act(handle, "retry", "try the PTR again")
        final = await handle.result()
    assert final.status == "REJECTED", final.log[-1]["message"]
    assert not store.records
    assert "no longer serves" in final.log[-1]["message"]
