"""Record the histories of SCHEDULED_CHANGES (issue 26; workflows/schedule.py):
`python -m tests.replay.record_schedule`.

Time-skipping server and the stub activities of tests/fixtures/workflow_stubs.py.
tests/unit/workflows/replay/test_replay_schedule.py replays them. Run it after a deliberate,
versioned change; never
to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import OperatorAction, Reschedule
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, Handle, start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = Path(__file__).parent / "histories" / "scheduled-changes"


async def scheduled(env: WorkflowEnvironment, store: FakeStore, hours: float) -> Handle:
    due = await env.get_current_time() + timedelta(hours=hours)
    handle = await start(env, dataclasses.replace(request_spec(), not_before=due))
    while "SCHEDULED" not in store.statuses():
        await asyncio.sleep(0.05)
    return handle


async def waited_then_completed(env: WorkflowEnvironment, store: FakeStore) -> str:
    handle = await scheduled(env, store, 6)
    await handle.result()
    return handle.id


async def rescheduled_then_cancelled(env: WorkflowEnvironment, store: FakeStore) -> str:
    handle = await scheduled(env, store, 2)
    later = await env.get_current_time() + timedelta(days=1)
    await handle.execute_update(DnsProvisioningWorkflow.reschedule, Reschedule(later, "alice", "recorded"))
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("cancel", "alice", "recorded"))
    await handle.result()
    return handle.id


SCENARIOS: dict[str, Callable[[WorkflowEnvironment, FakeStore], Awaitable[str]]] = {
    "waited_then_completed": waited_then_completed,
    "rescheduled_then_cancelled": rescheduled_then_cancelled,
}


async def main() -> None:
    await record_all(HISTORIES, SCENARIOS, FakeStore)


if __name__ == "__main__":
    asyncio.run(main())
