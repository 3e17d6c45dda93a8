"""Record the histories of this release's smaller patches: PTR_WAITS_ALONE (workflows/live_dns.py),
SERVED_STANDS_AT_TURN and DANGLING_TARGETS (workflows/patches.py), ROLLBACK_ASKS_DNS
(workflows/live_dns.py), JUDGED_WHEN_DUE (workflows/schedule.py), PTR_IN_APPLY (workflows/ptrs.py),
FEWER_ROUND_TRIPS (workflows/patches.py).
PTR_WAITS_ALONE's child requests ran only before PTR_IN_APPLY: its histories were recorded with that
code, so name the patches to record:
`python -m tests.replay.record_patches [PATCH ...]` (all of them when none is named).

Time-skipping server and the stub activities of tests/fixtures/workflow_stubs.py. Each patch keeps
its histories in a directory named after it; tests/unit/workflows/replay/test_replay_patches.py
replays them. Run it
after a deliberate, versioned change; never to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan, Judgement, OperatorAction
from dnsorch.dns import ptr_requests
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import PROPAGATION_POLICY, SECONDARY, FakeStore, Handle, start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = Path(__file__).parent / "histories"
REVERSE = ["2.0.192.in-addr.arpa"]
Scenario = Callable[[WorkflowEnvironment, FakeStore], Awaitable[str]]


async def ptr_waits(env: WorkflowEnvironment, store: FakeStore, *, forward: bool) -> str:
    """The PTR request's apply fails until an operator retries it; the forward request ends first."""
    store.fail_types = {"PTR": ApplicationError("SERVFAIL from the primary")}
    spec = request_spec()
    (ptr,) = ptr_requests(spec, [], REVERSE, attempt=1)
    handle = await start(env, spec, reverse_zones=REVERSE)
    while not any(s.request_id == spec.request_id and s.status == "COMPLETED" for s in store.steps.values()):
        await asyncio.sleep(0.05)  # not `result()`: the server would skip the PTR request's deadline
    store.fail_types = {}
    child = env.client.get_workflow_handle(ptr.workflow_id)
    await child.execute_update(
        DnsProvisioningWorkflow.act, OperatorAction("retry", "alice", "primary is back")
    )
    await child.result()
    return handle.id if forward else child.id


async def forward_completed_while_its_ptr_waits(env: WorkflowEnvironment, store: FakeStore) -> str:
    return await ptr_waits(env, store, forward=True)


async def ptr_waited_then_retried(env: WorkflowEnvironment, store: FakeStore) -> str:
    return await ptr_waits(env, store, forward=False)


async def retry_refused_at_turn_after_served(env: WorkflowEnvironment, store: FakeStore) -> str:
    store.fail_types = {
        "PTR": ApplicationError("the PTR belongs elsewhere", type="NameOwnedByAnotherAccount")
    }
    handle = await start(env, request_spec(), reverse_zones=REVERSE)
    while "NEEDS_ATTENTION" not in store.statuses():
        await asyncio.sleep(0.05)
    store.turn_refusal = ApplicationError(
        "the name belongs to another account", type="NameOwnedByAnotherAccount", non_retryable=True
    )
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("retry", "alice", "PTR again"))
    await handle.result()
    return handle.id


async def dangling_target_held_then_approved(env: WorkflowEnvironment, store: FakeStore) -> str:
    target = "nowhere.example.test."
    store.plan = ChangePlan("add", new_values=[f"10 {target}"], new_ttl=300, dangling=[target])
    handle = await start(
        env, request_spec(record_type="MX", target=target, priority=10), hold_dangling_targets=True
    )
    while "PENDING_APPROVAL" not in store.statuses():
        await asyncio.sleep(0.05)
    await handle.execute_update(
        DnsProvisioningWorkflow.act, OperatorAction("approve", "alice", "being built")
    )
    await handle.result()
    return handle.id


async def rollback_refused_after_a_later_change(env: WorkflowEnvironment, store: FakeStore) -> str:
    store.behind, store.plan = (
        {SECONDARY},
        ChangePlan("replace", old_values=["192.0.2.1"], new_values=["192.0.2.10"]),
    )
    handle = await start(env, request_spec(), policy=PROPAGATION_POLICY)
    await attention(env, store, 1)
    store.plan = ChangePlan("replace", old_values=["192.0.2.99"], new_values=["192.0.2.10"])  # changed since
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("rollback", "alice", "undo it"))
    await attention(env, store, 2)
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("resolve", "alice", "it stands"))
    await handle.result()
    return handle.id


async def scheduled_update(env: WorkflowEnvironment, store: FakeStore, *, approval: bool) -> Handle:
    """An update due in three hours, run up to its first PENDING_APPROVAL at its time."""
    due = await env.get_current_time() + timedelta(hours=3)
    spec = dataclasses.replace(request_spec(operation="update", target="192.0.2.20"), not_before=due)
    handle = await start(env, spec, approval=approval, approval_timeout=24 * 3600)
    while "SCHEDULED" not in store.statuses():
        await asyncio.sleep(0.05)
    await env.sleep(3 * 3600 + 60)
    while "PENDING_APPROVAL" not in store.statuses():
        await asyncio.sleep(0.05)
    return handle


async def judged_risky_when_due_then_approved(env: WorkflowEnvironment, store: FakeStore) -> str:
    store.judgement = Judgement(True, ["a TTL below the floor"], 1)
    handle = await scheduled_update(env, store, approval=False)
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("approve", "alice", "ok now"))
    await handle.result()
    return handle.id


async def ptr_in_apply(env: WorkflowEnvironment, store: FakeStore, action: str) -> str:
    """The A and its PTR in one apply; the PTR is not applied, and an operator's `action` follows."""
    store.fail_types = {"PTR": ApplicationError("SERVFAIL from the primary")}
    handle = await start(env, request_spec(), reverse_zones=REVERSE)
    while "NEEDS_ATTENTION" not in store.statuses():
        await asyncio.sleep(0.05)
    store.fail_types = {}
    await handle.execute_update(
        DnsProvisioningWorkflow.act, OperatorAction(action, "alice", "primary is back")
    )
    await handle.result()
    return handle.id


async def plan_changed_then_approved_again(env: WorkflowEnvironment, store: FakeStore) -> str:
    store.plan = ChangePlan("replace", ["192.0.2.7"], ["192.0.2.20"], 600, 300)
    handle = await scheduled_update(env, store, approval=True)
    store.plan = ChangePlan("replace", ["198.51.100.9"], ["192.0.2.20"], 600, 300)
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("approve", "alice", "first"))
    while store.statuses().count("PENDING_APPROVAL") < 2:
        await asyncio.sleep(0.05)
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("approve", "alice", "again"))
    await handle.result()
    return handle.id


async def ptr_failed_then_retried(env: WorkflowEnvironment, store: FakeStore) -> str:
    return await ptr_in_apply(env, store, "retry")


async def ptr_failed_then_rolled_back(env: WorkflowEnvironment, store: FakeStore) -> str:
    return await ptr_in_apply(env, store, "rollback")


async def completed_with_its_ptr(env: WorkflowEnvironment, store: FakeStore) -> str:
    """Both zones' first checks look their servers up; both verify lines ride with the final write."""
    handle = await start(env, request_spec(), reverse_zones=REVERSE)
    await handle.result()
    return handle.id


async def ptr_lagged_then_served(env: WorkflowEnvironment, store: FakeStore) -> str:
    """The A is served at once, its PTR's secondary lags: the A's verify line is written before the
    timer, and the secondary alone is asked again after it."""
    store.behind, store.lagging_types = {SECONDARY}, {"PTR"}
    handle = await start(env, request_spec(), policy=PROPAGATION_POLICY, reverse_zones=REVERSE)
    while store.checks < 2:
        await asyncio.sleep(0.05)
    store.behind.clear()
    await handle.result()
    return handle.id


async def attention(env: WorkflowEnvironment, store: FakeStore, count: int) -> None:
    while store.statuses().count("NEEDS_ATTENTION") < count:
        await env.sleep(PROPAGATION_POLICY.propagation_interval_seconds)


SCENARIOS: dict[str, dict[str, Scenario]] = {
    "ptr-waits-alone": {
        "forward_completed_while_its_ptr_waits": forward_completed_while_its_ptr_waits,
        "ptr_waited_then_retried": ptr_waited_then_retried,
    },
    "served-stands-at-turn": {"retry_refused_at_turn_after_served": retry_refused_at_turn_after_served},
    "rollback-asks-dns": {"rollback_refused_after_a_later_change": rollback_refused_after_a_later_change},
    "dangling-targets": {"dangling_target_held_then_approved": dangling_target_held_then_approved},
    "judged-when-due": {
        "judged_risky_when_due_then_approved": judged_risky_when_due_then_approved,
        "plan_changed_then_approved_again": plan_changed_then_approved_again,
    },
    "ptr-in-apply": {
        "ptr_failed_then_retried": ptr_failed_then_retried,
        "ptr_failed_then_rolled_back": ptr_failed_then_rolled_back,
    },
    "fewer-round-trips": {
        "completed_with_its_ptr": completed_with_its_ptr,
        "ptr_lagged_then_served": ptr_lagged_then_served,
    },
}


async def main() -> None:
    for patch in sys.argv[1:] or [patch for patch in SCENARIOS if patch != "ptr-waits-alone"]:
        await record_all(HISTORIES / patch, SCENARIOS[patch], FakeStore)


if __name__ == "__main__":
    asyncio.run(main())
