"""Record the histories of CANCEL_ASKS_DNS (issue 22, item 5; workflows/cancel_check.py):
`python -m tests.replay.record_cancel` (and `--fail` for FAIL_ASKS_DNS).

Time-skipping server and the stub primary of tests/fixtures/workflow_stubs.py (it
applies an UPDATE as soon as it is sent, and answers plans from what it serves): each scenario takes
a new branch. tests/unit/workflows/replay/test_replay_cancel_check.py replays them. Run it after a deliberate,
versioned change; never to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import OperatorAction
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import PROPAGATION_POLICY, SECONDARY, Primary, start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = Path(__file__).parent / "histories" / "cancel-asks-dns"


async def act(env: WorkflowEnvironment, workflow_id: str, action: str) -> None:
    handle = env.client.get_workflow_handle(workflow_id)
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction(action, "alice", "recorded"))


async def cancel_in_flight_restores(env: WorkflowEnvironment, store: Primary) -> str:
    """A cancel while the apply is in flight; the primary serves the change: restored, CANCELLED."""
    store.hold_apply = True
    handle = await start(env, request_spec(), policy=PROPAGATION_POLICY)
    while not store.apply_calls:
        await asyncio.sleep(0.05)
    await act(env, handle.id, "cancel")
    await handle.result()
    return handle.id


async def cancel_unanswered_then_restores(env: WorkflowEnvironment, store: Primary) -> str:
    """Verification times out; a cancel finds the primary silent (stays NEEDS_ATTENTION); a second
    cancel finds the change served: restored, CANCELLED."""
    store.behind, store.behind_serves = {SECONDARY}, list(store.serves)
    handle = await start(env, request_spec(), policy=PROPAGATION_POLICY)
    while "NEEDS_ATTENTION" not in store.statuses():
        await env.sleep(PROPAGATION_POLICY.propagation_interval_seconds)
    store.unreachable = True
    await act(env, handle.id, "cancel")
    store.unreachable = False
    await act(env, handle.id, "cancel")
    await handle.result()
    return handle.id


async def fail_in_flight_restores(env: WorkflowEnvironment, store: Primary) -> str:
    """FAIL_ASKS_DNS: a fail while the apply is in flight; the primary serves the change: restored, FAILED."""
    store.hold_apply = True
    handle = await start(env, request_spec(), policy=PROPAGATION_POLICY)
    while not store.apply_calls:
        await asyncio.sleep(0.05)
    await act(env, handle.id, "fail")
    await handle.result()
    return handle.id


FAIL_SCENARIOS: dict[str, Callable[[WorkflowEnvironment, Primary], Awaitable[str]]] = {
    "fail_in_flight_restores": fail_in_flight_restores,
}
SCENARIOS: dict[str, Callable[[WorkflowEnvironment, Primary], Awaitable[str]]] = {
    "cancel_in_flight_restores": cancel_in_flight_restores,
    "cancel_unanswered_then_restores": cancel_unanswered_then_restores,
}


async def main() -> None:
    """`--fail` records only FAIL_ASKS_DNS's history (the cancel ones were recorded before it)."""
    await record_all(HISTORIES, FAIL_SCENARIOS if "--fail" in sys.argv else SCENARIOS, Primary)


if __name__ == "__main__":
    asyncio.run(main())
