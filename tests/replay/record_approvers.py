"""Record the histories of DISTINCT_APPROVERS (issue 26; workflows/approvals.py):
`python -m tests.replay.record_approvers`.

Time-skipping server and the stub activities of tests/fixtures/workflow_stubs.py.
tests/unit/workflows/replay/test_replay_approvers.py replays them. Run it after a deliberate,
versioned change; never
to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import OperatorAction
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, Handle, start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = Path(__file__).parent / "histories" / "distinct-approvers"
DAY = 24 * 3600


async def held(
    env: WorkflowEnvironment, store: FakeStore, *, approvals_required: int = 1, four_eyes: bool = False
) -> Handle:
    handle = await start(
        env,
        request_spec(submitted_by="k-sub"),
        approval=True,
        approval_timeout=DAY,
        approvals_required=approvals_required,
        four_eyes=four_eyes,
    )
    while "PENDING_APPROVAL" not in store.statuses():
        await asyncio.sleep(0.05)
    return handle


def approval(actor: str, key_id: str = "") -> OperatorAction:
    return OperatorAction(
        "approve", actor, "recorded", key_id=key_id, account_id="acct-ops" if key_id else ""
    )


async def two_approvers_then_completed(env: WorkflowEnvironment, store: FakeStore) -> str:
    handle = await held(env, store, approvals_required=2)
    await handle.execute_update(DnsProvisioningWorkflow.act, approval("alice (operator)", "k-alice"))
    await handle.execute_update(DnsProvisioningWorkflow.act, approval("alice (operator)", "k-alice"))
    await handle.execute_update(DnsProvisioningWorkflow.act, approval("bob (operator)", "k-bob"))
    await handle.result()
    return handle.id


async def unnamed_not_counted_then_late(env: WorkflowEnvironment, store: FakeStore) -> str:
    handle = await held(env, store, four_eyes=True)
    await handle.signal(DnsProvisioningWorkflow.action, approval("carol"))
    await handle.execute_update(DnsProvisioningWorkflow.act, approval("sub (admin)", "k-sub"))
    await handle.result()
    return handle.id


SCENARIOS: dict[str, Callable[[WorkflowEnvironment, FakeStore], Awaitable[str]]] = {
    "two_approvers_then_completed": two_approvers_then_completed,
    "unnamed_not_counted_then_late": unnamed_not_counted_then_late,
}


async def main() -> None:
    await record_all(HISTORIES, SCENARIOS, FakeStore)


if __name__ == "__main__":
    asyncio.run(main())
