"""Record the histories of TURN_BEFORE_PLAN (issue 22, items 10 and 11; workflows/provisioning.py):
`python -m tests.replay.record_turn`.

Time-skipping server and the stub activities of tests/fixtures/workflow_stubs.py: in each scenario
another request holds the name first, so the workflow waits for its turn in its own activity.
tests/unit/workflows/replay/test_replay_turn.py replays them. Run it after a deliberate, versioned
change; never
to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import OperatorAction
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = Path(__file__).parent / "histories" / "turn-before-plan"
AHEAD = "0b5c1b9e-0000-4000-8000-000000000001"


async def waiting(store: FakeStore) -> None:
    while "wait" not in store.turns:
        await asyncio.sleep(0.05)


async def waited_then_completed(env: WorkflowEnvironment, store: FakeStore) -> str:
    store.ahead = AHEAD
    handle = await start(env, request_spec())
    await waiting(store)
    store.ahead = ""
    await handle.result()
    return handle.id


async def drift_superseded_at_its_turn(env: WorkflowEnvironment, store: FakeStore) -> str:
    store.ahead = AHEAD
    handle = await start(env, dataclasses.replace(request_spec(), source="drift", operation="restore"))
    await waiting(store)
    store.superseded_by, store.ahead = "192.0.2.77 (TTL 300)", ""
    await handle.result()
    return handle.id


async def cancelled_while_waiting(env: WorkflowEnvironment, store: FakeStore) -> str:
    store.ahead = AHEAD
    handle = await start(env, request_spec())
    await waiting(store)
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("cancel", "alice", "recorded"))
    await handle.result()
    return handle.id


SCENARIOS: dict[str, Callable[[WorkflowEnvironment, FakeStore], Awaitable[str]]] = {
    "waited_then_completed": waited_then_completed,
    "drift_superseded_at_its_turn": drift_superseded_at_its_turn,
    "cancelled_while_waiting": cancelled_while_waiting,
}


async def main() -> None:
    await record_all(HISTORIES, SCENARIOS, FakeStore)


if __name__ == "__main__":
    asyncio.run(main())
