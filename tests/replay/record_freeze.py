"""Record the histories of FREEZE_WINDOWS (issue 26; workflows/freeze.py):
`python -m tests.replay.record_freeze`.

Time-skipping server and the stub activities of tests/fixtures/workflow_stubs.py, with the freeze
windows of tests/fixtures/freeze_stubs.py. tests/unit/workflows/replay/test_replay_freeze.py
replays them. Run it
after a deliberate, versioned change; never to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import OperatorAction
from tests.fixtures.freeze_stubs import FrozenStore
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import Handle, start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = Path(__file__).parent / "histories" / "freeze-windows"


async def frozen(
    env: WorkflowEnvironment, store: FrozenStore, hours: float, *, emergency: bool = False
) -> Handle:
    store.clock = env.get_current_time
    now = await env.get_current_time()
    store.declare(now - timedelta(hours=1), now + timedelta(hours=hours), "recorded freeze")
    handle = await start(env, request_spec(emergency=emergency))
    while "FROZEN" not in store.statuses() and not emergency:
        await asyncio.sleep(0.05)
    return handle


async def waited_then_completed(env: WorkflowEnvironment, store: FrozenStore) -> str:
    handle = await frozen(env, store, 3)
    store.extend(store.windows[0].freeze.window_id, store.windows[0].freeze.ends_at + timedelta(hours=2))
    await handle.result()
    return handle.id


async def let_through(env: WorkflowEnvironment, store: FrozenStore) -> str:
    handle = await frozen(env, store, 24)
    await handle.execute_update(
        DnsProvisioningWorkflow.act, OperatorAction("let_through", "alice", "recorded")
    )
    await handle.result()
    return handle.id


async def cancelled_while_frozen(env: WorkflowEnvironment, store: FrozenStore) -> str:
    handle = await frozen(env, store, 24)
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("cancel", "alice", "recorded"))
    await handle.result()
    return handle.id


async def ended_early(env: WorkflowEnvironment, store: FrozenStore) -> str:
    handle = await frozen(env, store, 24)
    store.cancel(store.windows[0].freeze.window_id)
    await handle.signal(DnsProvisioningWorkflow.freezes_changed)
    await handle.result()
    return handle.id


async def emergency_passes(env: WorkflowEnvironment, store: FrozenStore) -> str:
    handle = await frozen(env, store, 24, emergency=True)
    await handle.result()
    return handle.id


SCENARIOS: dict[str, Callable[[WorkflowEnvironment, FrozenStore], Awaitable[str]]] = {
    "waited_then_completed": waited_then_completed,
    "let_through": let_through,
    "cancelled_while_frozen": cancelled_while_frozen,
    "ended_early": ended_early,
    "emergency_passes": emergency_passes,
}


async def main() -> None:
    await record_all(HISTORIES, SCENARIOS, FrozenStore)


if __name__ == "__main__":
    asyncio.run(main())
