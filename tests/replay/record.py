"""Record the workflow histories the replay test keeps: `python -m tests.replay.record`.

Run it after a deliberate, versioned change of the workflow's behaviour; never to make a failing
replay test pass (that failure means running workflows would break).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import OperatorAction, StatusChange
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = Path(__file__).parent / "histories"
UNREACHABLE = ApplicationError("server unreachable", type="DnsChangeFailed")


async def until(store: FakeStore, status: str) -> None:
    while status not in store.statuses():
        await asyncio.sleep(0.05)


async def completed(env: WorkflowEnvironment, store: FakeStore) -> str:
    handle = await start(env, request_spec())
    await handle.result()
    return handle.id


async def attention_then_retry(env: WorkflowEnvironment, store: FakeStore) -> str:
    store.apply_failures = [UNREACHABLE] * 3
    handle = await start(env, request_spec())
    await until(store, "NEEDS_ATTENTION")
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction("retry", "alice", "fixed"))
    await handle.result()
    return handle.id


async def approval_rejected(env: WorkflowEnvironment, store: FakeStore) -> str:
    handle = await start(env, request_spec(), approval=True)
    await until(store, "PENDING_APPROVAL")
    await handle.signal(DnsProvisioningWorkflow.action, OperatorAction("reject", "bob", "policy"))
    await handle.result()
    return handle.id


async def manual_fail_during_apply(env: WorkflowEnvironment, store: FakeStore) -> str:
    store.block_apply = True
    handle = await start(env, request_spec())
    while store.apply_calls == 0:
        await asyncio.sleep(0.05)
    await handle.signal(DnsProvisioningWorkflow.update_status, StatusChange("FAILED", "stop", "carol"))
    await handle.result()
    return handle.id


SCENARIOS: dict[str, Callable[[WorkflowEnvironment, FakeStore], Awaitable[str]]] = {
    "completed": completed,
    "attention_then_retry": attention_then_retry,
    "approval_rejected": approval_rejected,
    "manual_fail_during_apply": manual_fail_during_apply,
}


async def main() -> None:
    await record_all(HISTORIES, SCENARIOS, FakeStore)


if __name__ == "__main__":
    asyncio.run(main())
