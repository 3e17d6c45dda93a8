"""Fewer local activities per request (patch fewer-round-trips): a zone's first check looks its servers
up too, and the "served by every authoritative server" lines ride with the next write, yet the
timeline in the store reads as before and no line waits unwritten through a durable wait."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowHistory
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities import verification
from activities.name_lock import NameLockActivities
from activities.verification import VerificationActivities
from dnsorch.contracts import SERVERS_UNKNOWN, ServedCheck, ServerAnswer
from dnsorch.dns import change_for
from dnsorch.settings import Settings
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import (
    HEARTBEAT_THROTTLE,
    PROPAGATION_POLICY,
    SECONDARY,
    FakeStore,
    start,
    until_status,
    worker,
)
from workflows.name_lock import DnsNameLockWorkflow
from workflows.patches import FEWER_ROUND_TRIPS, FEWER_STEPS_TO_APPLY, ONE_MARKER
from workflows.provisioning import DnsProvisioningWorkflow

REVERSE = ["2.0.192.in-addr.arpa"]


def local_activities(history: WorkflowHistory) -> int:
    return sum(
        1 for e in history.events if e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )


def unpatched_worker(env: WorkflowEnvironment, store: FakeStore) -> Worker:
    """The stubs' worker without the sandbox, so that a test can turn the patch off."""
    return Worker(
        env.client,
        task_queue="test-provisioning",
        workflows=[DnsProvisioningWorkflow, DnsNameLockWorkflow],
        activities=[*store.activities(), NameLockActivities(env.client).request_name_lock],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
    )


def timeline(store: FakeStore, request_id: str) -> list[str]:
    """The request's lines in the order they reached the store."""
    return [store.steps[i].message for i in store.written if store.steps[i].request_id == request_id]


@pytest.mark.parametrize(
    ("record_type", "reverse_zones", "before", "after"),
    [("A", [], 9, 7), ("A", REVERSE, 15, 11), ("TXT", REVERSE, 9, 7)],  # a TXT keeps no PTR
)
async def test_a_create_runs_fewer_local_activities_under_the_patch(
    time_skipping_env: WorkflowEnvironment,
    monkeypatch: pytest.MonkeyPatch,
    record_type: str,
    reverse_zones: list[str],
    before: int,
    after: int,
) -> None:
    counts: list[int] = []
    real = workflow.patched
    for patched in (False, True):  # the same create, without and with the patch (and no later one)
        monkeypatch.setattr(
            workflow,
            "patched",
            lambda i, on=patched: (
                (on or i != FEWER_ROUND_TRIPS) and i not in (FEWER_STEPS_TO_APPLY, ONE_MARKER) and real(i)
            ),
        )
        store = FakeStore()
        async with unpatched_worker(time_skipping_env, store):
            spec = request_spec(
                record_type=record_type, target="v=spf1 -all" if record_type == "TXT" else "192.0.2.10"
            )
            handle = await start(time_skipping_env, spec, reverse_zones=reverse_zones)
            assert (await handle.result()).status == "COMPLETED"
        counts.append(local_activities(await handle.fetch_history()))
        monkeypatch.undo()
    assert counts == [before, after]


async def test_the_stored_timeline_reads_as_the_state_with_the_verify_line_before_the_end(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    spec = request_spec()
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, spec, reverse_zones=REVERSE)).result()
    assert final.status == "COMPLETED"
    stored = timeline(store, spec.request_id)
    assert stored == [line["message"] for line in final.log]
    verified = [i for i, m in enumerate(stored) if "served by every authoritative server" in m]
    assert len(verified) == 2, stored  # the A's, then its PTR's in the reverse zone
    assert stored[verified[1]].startswith("PTR 10.2.0.192.in-addr.arpa served by every")
    assert verified[1] == len(stored) - 2 and "→ COMPLETED" in stored[-1]
    line = next(s for s in store.steps.values() if s.message == stored[verified[0]])
    assert line.step == "verify" and line.propagation == final.propagation


async def test_a_lagging_secondary_is_asked_again_with_the_servers_first_looked_up(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(behind={SECONDARY})
    asked: list[list[str]] = []

    @activity.defn(name="check_served")
    async def check_served(check: ServedCheck) -> list[ServerAnswer]:
        asked.append([server.address for server in check.servers])
        store.behind.clear()  # the secondary takes the transfer while the workflow sleeps
        return [ServerAnswer(s, serves=True, served=check.change.values, seconds=5.0) for s in check.servers]

    activities = [a for a in store.activities() if getattr(a, "__name__", "") != "check_served"]
    spec = request_spec()
    async with Worker(
        time_skipping_env.client,
        task_queue="test-provisioning",
        workflows=[DnsProvisioningWorkflow, DnsNameLockWorkflow],
        activities=[*activities, check_served],
    ):
        handle = await start(time_skipping_env, spec, policy=PROPAGATION_POLICY)
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert asked == [[SECONDARY]], "after the durable timer, only the secondary that lagged"
    assert final.propagation == {"ns1.example.test (127.0.0.1)": 0.25, "ns2.example.test (127.0.0.2)": 5.0}
    assert "served by every authoritative server" in timeline(store, spec.request_id)[-2]
    events = (await handle.fetch_history()).events
    assert sum(1 for e in events if e.HasField("timer_started_event_attributes")) == 1


async def test_a_line_kept_back_is_written_before_the_workflow_sleeps(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """The A is served at once, the PTR's secondary lags: the A's verify line is stored before the timer."""
    store = FakeStore()
    spec = request_spec()
    written_at_second_check: list[list[str]] = []
    checks = {name: a for a in store.activities() if (name := getattr(a, "__name__", ""))}
    first_ptr_check = True

    @activity.defn(name="check_served_in_zone")
    async def check_served_in_zone(check: ServedCheck) -> object:
        nonlocal first_ptr_check
        found = await checks["check_served_in_zone"](check)
        if check.change.record_type == "PTR" and first_ptr_check:
            first_ptr_check = False
            found.answers = [
                dataclasses.replace(a, serves=a.server.address != SECONDARY) for a in found.answers
            ]
        return found

    @activity.defn(name="check_served")
    async def check_served(check: ServedCheck) -> list[ServerAnswer]:
        written_at_second_check.append(timeline(store, spec.request_id))
        return await checks["check_served"](check)

    checks_replaced = {"check_served_in_zone": check_served_in_zone, "check_served": check_served}
    async with Worker(
        time_skipping_env.client,
        task_queue="test-provisioning",
        workflows=[DnsProvisioningWorkflow, DnsNameLockWorkflow],
        activities=[checks_replaced.get(name, a) for name, a in checks.items()],
    ):
        handle = await start(time_skipping_env, spec, policy=PROPAGATION_POLICY, reverse_zones=REVERSE)
        final = await handle.result()
    assert final.status == "COMPLETED", final.log
    (written,) = written_at_second_check
    assert written[-1].startswith("served by every authoritative server"), written
    assert timeline(store, spec.request_id) == [line["message"] for line in final.log]


async def test_servers_that_cannot_be_looked_up_need_an_operator_with_the_same_message(
    own_time_skipping_env: WorkflowEnvironment,
) -> None:
    """A server of its own: the request is left waiting for an operator, its deadline still ahead."""
    env = own_time_skipping_env
    store = FakeStore(servers_unknown="NXDOMAIN: example.test has no NS")
    async with worker(env, store):
        handle = await start(env, request_spec(), policy=PROPAGATION_POLICY)
        await until_status(store, "NEEDS_ATTENTION")
        state = await handle.query(DnsProvisioningWorkflow.state)
    assert (
        state.last_error
        == "the authoritative servers of example.test are unknown: NXDOMAIN: example.test has no NS"
    )


async def test_the_lookup_in_the_first_check_fails_with_the_lookups_own_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_servers(server: str, port: int, zone: str) -> list[object]:
        raise RuntimeError(f"no NS for {zone} at {server}:{port}")

    monkeypatch.setattr(verification, "authoritative_servers", no_servers)
    checks = VerificationActivities(Settings(dns_verify_servers=""))
    change = change_for(request_spec())
    env = ActivityEnvironment()
    with pytest.raises(RuntimeError) as lookup:
        await env.run(checks.authoritative_servers, change.zone)
    with pytest.raises(ApplicationError) as first_check:
        await env.run(checks.check_served_in_zone, ServedCheck(change, [], datetime.now(UTC)))
    assert first_check.value.type == SERVERS_UNKNOWN
    assert first_check.value.message == str(lookup.value)
