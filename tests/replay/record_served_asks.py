"""Record the histories of SERVED_STANDS_ASKS_DNS (workflows/patches.py):
`python -m tests.replay.record_served_asks`.

A request whose change every server served needs a retry (its PTR was refused), and the retry is
refused at the name's turn: the primary still serves the change (COMPLETED), or another request
replaced it since (REJECTED). Time-skipping server and the stub primary of
tests/fixtures/workflow_stubs.py; tests/unit/workflows/replay/test_replay_served_asks.py replays them.
Run it after a deliberate, versioned change; never to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import OperatorAction
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import Primary, start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = Path(__file__).parent / "histories" / "served-stands-asks-dns"


async def _refused_retry(env: WorkflowEnvironment, store: Primary, *, replaced: bool) -> str:
    store.fail_types = {
        "PTR": ApplicationError("the PTR belongs elsewhere", type="NameOwnedByAnotherAccount")
    }
    handle = await start(env, request_spec(), reverse_zones=["2.0.192.in-addr.arpa"])
    while "NEEDS_ATTENTION" not in store.statuses():
        await asyncio.sleep(0.05)
    if replaced:
        store.serves = ["192.0.2.99"]
    store.turn_refusal = ApplicationError(
        "the name belongs to another account", type="NameOwnedByAnotherAccount", non_retryable=True
    )
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("retry", "alice", "PTR again"))
    await handle.result()
    return handle.id


async def still_served_completed(env: WorkflowEnvironment, store: Primary) -> str:
    return await _refused_retry(env, store, replaced=False)


async def replaced_since_rejected(env: WorkflowEnvironment, store: Primary) -> str:
    return await _refused_retry(env, store, replaced=True)


SCENARIOS = {
    "still_served_completed": still_served_completed,
    "replaced_since_rejected": replaced_since_rejected,
}


if __name__ == "__main__":
    asyncio.run(record_all(HISTORIES, SCENARIOS, Primary))
