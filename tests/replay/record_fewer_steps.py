"""Record the histories of FEWER_STEPS_TO_APPLY (workflows/patches.py):
`python -m tests.replay.record_fewer_steps`.

Time-skipping server and the stub activities of tests/fixtures/workflow_stubs.py (with the freeze
windows of tests/fixtures/freeze_stubs.py). tests/unit/workflows/replay/test_replay_fewer_steps.py
replays them. Run it after a deliberate, versioned change; never to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan, OperatorAction
from tests.fixtures.freeze_stubs import FrozenStore
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = Path(__file__).parent / "histories" / "fewer-steps-to-apply"
REVERSE = ["2.0.192.in-addr.arpa"]
AHEAD = "00000000-0000-4000-8000-0000000000aa"


async def completed_with_its_ptr(env: WorkflowEnvironment, store: FrozenStore) -> str:
    """Straight through: the first write with the freeze, one step per turn and plan, one plan write."""
    handle = await start(env, request_spec(), reverse_zones=REVERSE)
    await handle.result()
    return handle.id


async def ptr_turn_waited(env: WorkflowEnvironment, store: FrozenStore) -> str:
    """Another request holds the PTR's name: the request waits for it, then plans the PTR."""
    store.ahead, store.ahead_at = AHEAD, {"10.2.0.192.in-addr.arpa"}
    handle = await start(env, request_spec(), reverse_zones=REVERSE)
    while "wait" not in store.turns:
        await asyncio.sleep(0.05)
    store.ahead = ""
    await handle.result()
    return handle.id


async def frozen_then_completed(env: WorkflowEnvironment, store: FrozenStore) -> str:
    """The first write finds the zone frozen: FROZEN until the window's end, asked again, then on."""
    now = await env.get_current_time()
    store.declare(now - timedelta(hours=1), now + timedelta(minutes=30), "recorded freeze")
    handle = await start(env, request_spec())
    await handle.result()
    return handle.id


async def dangling_target_approved(env: WorkflowEnvironment, store: FrozenStore) -> str:
    """The plan holds the request for approval; approved, it takes its turn and plans again."""
    target = "nowhere.example.test."
    store.plan = ChangePlan("add", new_values=[f"10 {target}"], new_ttl=300, dangling=[target])
    spec = request_spec(record_type="MX", target=target, priority=10)
    handle = await start(env, spec, hold_dangling_targets=True)
    while "PENDING_APPROVAL" not in store.statuses():
        await asyncio.sleep(0.05)
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("approve", "alice", "recorded"))
    await handle.result()
    return handle.id


async def dry_run(env: WorkflowEnvironment, store: FrozenStore) -> str:
    """A dry run: no freeze asked, the plan line written with the final status."""
    handle = await start(env, request_spec(dry_run=True))
    await handle.result()
    return handle.id


def clocked(
    scenario: Callable[[WorkflowEnvironment, FrozenStore], Awaitable[str]],
) -> Callable[[WorkflowEnvironment, FrozenStore], Awaitable[str]]:
    """The freeze windows are judged at the test server's time (every request asks, with its first write)."""

    async def run(env: WorkflowEnvironment, store: FrozenStore) -> str:
        store.clock = env.get_current_time
        return await scenario(env, store)

    return run


SCENARIOS: dict[str, Callable[[WorkflowEnvironment, FrozenStore], Awaitable[str]]] = {
    "completed_with_its_ptr": completed_with_its_ptr,
    "ptr_turn_waited": ptr_turn_waited,
    "frozen_then_completed": frozen_then_completed,
    "dangling_target_approved": dangling_target_approved,
    "dry_run": dry_run,
}


if __name__ == "__main__":
    asyncio.run(
        record_all(HISTORIES, {name: clocked(scenario) for name, scenario in SCENARIOS.items()}, FrozenStore)
    )
