"""Record the histories of PTR_WAITS_ALONE (workflows/live_dns.py) and SERVED_STANDS_AT_TURN
(workflows/provisioning.py), issue 22 item 11 and the soak's SEED=101 finding:
`python -m tests.replay.record_ptr`.

Time-skipping server and the stub activities of tests/fixtures/workflow_stubs.py. Each patch keeps
its histories in a directory named after it; tests/unit/test_replay_ptr.py replays them. Run it
after a deliberate, versioned change; never to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import OperatorAction
from dnsorch.dns import ptr_requests
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, start
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
    await handle.result()
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


SCENARIOS: dict[str, dict[str, Scenario]] = {
    "ptr-waits-alone": {
        "forward_completed_while_its_ptr_waits": forward_completed_while_its_ptr_waits,
        "ptr_waited_then_retried": ptr_waited_then_retried,
    },
    "served-stands-at-turn": {"retry_refused_at_turn_after_served": retry_refused_at_turn_after_served},
}


async def main() -> None:
    for patch, scenarios in SCENARIOS.items():
        await record_all(HISTORIES / patch, scenarios, FakeStore)


if __name__ == "__main__":
    asyncio.run(main())
