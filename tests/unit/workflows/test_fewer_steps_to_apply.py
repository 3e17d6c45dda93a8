"""Fewer local activities before the apply (patch fewer-steps-to-apply): the first write asks the
zone's freeze too, the turn on each name and each plan share one local activity while no name has to
wait, and the plan lines ride with the next write, which comes before the apply starts. The turn is
still taken before DNS is read, and the timeline in the store reads as the `state` query's."""

from __future__ import annotations

import json
from datetime import timedelta

from temporalio import activity
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from dnsorch.contracts import ChangePlan, ChangeSet, ChangeSetResult
from tests.fixtures.freeze_stubs import FrozenStore
from tests.fixtures.specs import ZONE, request_spec
from tests.fixtures.workflow_stubs import FakeStore, act, start, until_status, worker
from workflows.name_lock import DnsNameLockWorkflow
from workflows.provisioning import DnsProvisioningWorkflow

REVERSE = ["2.0.192.in-addr.arpa"]
PTR_NAME = "10.2.0.192.in-addr.arpa"
AHEAD = "00000000-0000-4000-8000-0000000000aa"


def steps(history: WorkflowHistory) -> list[str]:
    """The local activities the workflow ran and the activities it scheduled (`apply:` …), in order."""
    found = []
    for event in history.events:
        if event.marker_recorded_event_attributes.marker_name == "core_local_activity":
            data = event.marker_recorded_event_attributes.details["data"].payloads[0].data
            found.append(json.loads(data)["activity_type"])
        elif event.HasField("activity_task_scheduled_event_attributes"):
            found.append(f"apply:{event.activity_task_scheduled_event_attributes.activity_type.name}")
    return found


def timeline(store: FakeStore, request_id: str) -> list[str]:
    """The request's lines in the order they reached the store."""
    return [store.steps[i].message for i in store.written if store.steps[i].request_id == request_id]


async def test_a_create_runs_its_folded_steps_in_order(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore()
    spec = request_spec()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec)
        assert (await handle.result()).status == "COMPLETED"
    assert steps(await handle.fetch_history()) == [
        "begin_request_and_freeze",
        "take_turns_and_plan",
        "record_step",  # the plan line, before the apply starts
        "apply:apply_dns_change",
        "check_served_in_zone",
        "finish_request",
    ]
    assert store.turns == ["take", "plan", "apply"], "the turn before the plan"


async def test_a_create_with_its_ptr_takes_every_ptr_turn_and_plan_in_one_step(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    spec = request_spec()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, reverse_zones=REVERSE)
        assert (await handle.result()).status == "COMPLETED"
    assert steps(await handle.fetch_history()) == [
        "begin_request_and_freeze",
        "take_turns_and_plan",  # the A's name
        "take_turns_and_plan",  # its PTR's
        "record_step",  # both plan lines
        "apply:apply_dns_changes",
        "check_served_in_zone",
        "check_served_in_zone",
        "finish_request",
    ]
    assert store.turns == ["take", "plan", "take", "plan", "apply"]


async def test_the_plan_lines_are_stored_before_the_apply_starts_and_the_timeline_reads_as_before(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    spec = request_spec()
    stored_at_apply: list[list[str]] = []
    stubs = store.activities()
    apply_changes = next(a for a in stubs if getattr(a, "__name__", "") == "apply_dns_changes")

    @activity.defn(name="apply_dns_changes")
    async def apply_dns_changes(changes: ChangeSet) -> ChangeSetResult:
        stored_at_apply.append(timeline(store, spec.request_id))
        return await apply_changes(changes)  # type: ignore[operator]

    replaced = [apply_dns_changes if getattr(a, "__name__", "") == "apply_dns_changes" else a for a in stubs]
    async with Worker(
        time_skipping_env.client,
        task_queue="test-provisioning",
        workflows=[DnsProvisioningWorkflow, DnsNameLockWorkflow],
        activities=replaced,
    ):
        final = await (await start(time_skipping_env, spec, reverse_zones=REVERSE)).result()
    assert final.status == "COMPLETED"
    (stored,) = stored_at_apply
    assert [line.split(":")[0] for line in stored[1:]] == ["plan", "plan"], stored
    assert stored[1].startswith("plan: add A") and stored[2].startswith(f"plan: add PTR {PTR_NAME}")
    assert timeline(store, spec.request_id) == [line["message"] for line in final.log]
    line = next(s for s in store.steps.values() if s.message == stored[1])
    assert line.step == "plan" and line.plan == final.plan


async def test_a_ptr_name_another_request_holds_is_waited_for_before_its_plan(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(ahead=AHEAD, ahead_at={PTR_NAME})
    spec = request_spec()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec, reverse_zones=REVERSE)
        while "wait" not in store.turns:
            await time_skipping_env.sleep(timedelta(milliseconds=50))
        assert store.turns == ["take", "plan", "take", "wait"], "no PTR plan before its turn"
        assert store.applied == []
        store.ahead = ""
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.turns == ["take", "plan", "take", "wait", "take", "plan", "apply"]
    waiting = f"waiting for request {AHEAD}, which changes {PTR_NAME} first"
    stored = timeline(store, spec.request_id)
    assert stored[1].startswith("plan: add A") and stored[2] == waiting, "the A's plan before the wait"
    assert stored == [line["message"] for line in final.log]


async def test_a_conflict_still_rejects_with_its_plan_line_stored(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(plan=ChangePlan("unknown", conflict="a CNAME dnsorch does not manage is there"))
    spec = request_spec()
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, spec)).result()
    assert final.status == "REJECTED"
    stored = timeline(store, spec.request_id)
    assert stored == [line["message"] for line in final.log]
    assert stored[-2].startswith("plan: ") and stored[-1].endswith("a CNAME dnsorch does not manage is there")
    assert store.applied == []


async def test_a_dry_run_ends_after_its_plan_which_is_stored(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore()
    spec = request_spec(dry_run=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec)
        final = await handle.result()
    assert final.status == "COMPLETED" and store.applied == []
    assert timeline(store, spec.request_id) == [line["message"] for line in final.log]
    # no freeze asked (a dry run changes nothing); the plan line rides with the final status
    assert steps(await handle.fetch_history()) == ["begin_request", "take_turns_and_plan", "record_step"]


async def test_a_frozen_zone_is_asked_with_the_first_write_and_again_at_the_windows_end(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FrozenStore(clock=time_skipping_env.get_current_time)
    now = await time_skipping_env.get_current_time()
    store.declare(now - timedelta(hours=1), now + timedelta(hours=2), "release night", ZONE)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await until_status(store, "FROZEN")
        assert store.turns == [], "no turn and no plan while frozen"
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.statuses() == ["IN_PROGRESS", "FROZEN", "IN_PROGRESS", "COMPLETED"]
    ran = steps(await handle.fetch_history())
    assert ran[:3] == ["begin_request_and_freeze", "record_step", "freeze_at"], ran
    assert store.asked == 1 + ran.count("freeze_at"), "each ask is one local activity"


async def test_a_request_held_for_approval_asks_the_freeze_only_once_approved(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FrozenStore(clock=time_skipping_env.get_current_time)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), approval=True)
        await until_status(store, "PENDING_APPROVAL")
        assert store.asked == 0
        await act(handle, "approve")
        final = await handle.result()
    assert final.status == "COMPLETED"
    ran = steps(await handle.fetch_history())
    assert ran[0] == "begin_request" and "begin_request_and_freeze" not in ran
    assert ran.index("freeze_at") < ran.index("take_turns_and_plan")
    assert store.asked == 1


async def test_a_cancel_while_waiting_for_the_ptrs_turn_ends_the_request_and_its_wait(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(ahead=AHEAD, ahead_at={PTR_NAME})
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), reverse_zones=REVERSE)
        while "wait" not in store.turns:
            await time_skipping_env.sleep(timedelta(milliseconds=50))
        await act(handle, "cancel", "not today")
        final = await handle.result()
    assert final.status == "CANCELLED"
    assert store.turn_waits_stopped == 1 and store.applied == []
