"""Record the histories of the TTL dance (TTL_DANCE, workflows/ttl_dance.py):
`python -m tests.replay.record_ttl_dance`.

Time-skipping server and the stub primary of tests/fixtures/workflow_stubs.py, serving the old record
with a TTL of an hour. tests/unit/workflows/replay/test_replay_ttl_dance.py replays them. Run it
after a deliberate,
versioned change; never to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import OperatorAction
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, Primary, start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow
from workflows.ttl_dance import TTL_DANCE

HISTORIES = Path(__file__).parent / "histories" / TTL_DANCE
OLD_TTL = 3600


async def dance_completed(env: WorkflowEnvironment, store: FakeStore) -> str:
    handle = await start(env, request_spec(operation="update", ttl_dance=True))
    await handle.result()
    return handle.id


async def dance_cancelled_during_the_wait(env: WorkflowEnvironment, store: FakeStore) -> str:
    handle = await start(env, request_spec(operation="update", ttl_dance=True))
    while not any("TTL dance 2/5" in step.message for step in store.steps.values()):
        await asyncio.sleep(0.05)
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("cancel", "alice", "not today"))
    await handle.result()
    return handle.id


async def dance_unasked_over_the_threshold(env: WorkflowEnvironment, store: FakeStore) -> str:
    handle = await start(env, request_spec(operation="update"), ttl_dance_threshold=1800)
    await handle.result()
    return handle.id


SCENARIOS = {
    "dance_completed": dance_completed,
    "dance_cancelled_during_the_wait": dance_cancelled_during_the_wait,
    "dance_unasked_over_the_threshold": dance_unasked_over_the_threshold,
}


async def main() -> None:
    await record_all(HISTORIES, SCENARIOS, lambda: Primary(ttl=OLD_TTL))


if __name__ == "__main__":
    asyncio.run(main())
