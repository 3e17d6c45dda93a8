"""Record the histories of RESOLVE_ASKS_DNS (workflows/resolve_check.py):
`python -m tests.replay.record_resolve`.

Time-skipping server and the stub primary of tests/fixtures/workflow_stubs.py, which answers plans
from what it serves. tests/unit/workflows/replay/test_replay_resolve.py replays them. Run it after a
deliberate, versioned change; never to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import OperatorAction
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import Primary, start, until_status
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = Path(__file__).parent / "histories" / "resolve-asks-dns"
REFUSED = ApplicationError("REFUSED by the primary", type="DnsChangeRejected", non_retryable=True)


async def act(env: WorkflowEnvironment, workflow_id: str, action: str) -> None:
    """Carry out an action; a refused one is part of the story being recorded."""
    handle = env.client.get_workflow_handle(workflow_id)
    with contextlib.suppress(WorkflowUpdateFailedError):
        await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction(action, "alice", "recorded"))


async def refused_unanswered_then_fixed(env: WorkflowEnvironment, store: Primary) -> str:
    """The primary refuses the UPDATE: a resolve is refused (not served), another (the primary is
    silent); DNS is fixed by hand and a third resolve ends it COMPLETED."""
    store.fail_types = {"A": REFUSED}
    handle = await start(env, request_spec())
    await until_status(store, "NEEDS_ATTENTION")
    await act(env, handle.id, "resolve")
    store.unreachable = True
    await act(env, handle.id, "resolve")
    store.unreachable = False
    store.serves = ["192.0.2.10"]
    await act(env, handle.id, "resolve")
    await handle.result()
    return handle.id


async def in_flight_never_sent(env: WorkflowEnvironment, store: Primary) -> str:
    """A resolve while the apply hangs before its UPDATE: stopped, refused, NEEDS_ATTENTION; cancelled."""
    store.hold_at_ttl = 300
    handle = await start(env, request_spec())
    while not store.applied:
        await asyncio.sleep(0.05)
    await act(env, handle.id, "resolve")
    await act(env, handle.id, "cancel")
    await handle.result()
    return handle.id


SCENARIOS: dict[str, Callable[[WorkflowEnvironment, Primary], Awaitable[str]]] = {
    "refused_unanswered_then_fixed": refused_unanswered_then_fixed,
    "in_flight_never_sent": in_flight_never_sent,
}


if __name__ == "__main__":
    asyncio.run(record_all(HISTORIES, SCENARIOS, Primary))
