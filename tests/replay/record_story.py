"""Record the histories of the "one true story" patches (issue 22, items 6-8):
`python -m tests.replay.record_story`.

Time-skipping server and stub activities, like tests/replay/record.py: each scenario takes one of
the new branches of ROLLBACK_STANDS, SERVED_IS_TOO_LATE or SNAPSHOT_FROM_FIRST_PLAN
(workflows/story.py). tests/unit/workflows/replay/test_replay_true_story.py replays them. Run it
after a deliberate,
versioned change; never to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan, OperatorAction
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import PROPAGATION_POLICY, FakeStore, start
from tests.replay.recording import record_all
from workflows.provisioning import DnsProvisioningWorkflow

STORY = Path(__file__).parent / "histories" / "true-story"
REPLACE = ChangePlan("replace", old_values=["192.0.2.1"], new_values=["192.0.2.10"], old_ttl=600, new_ttl=300)
SEEN_AFTER_APPLY = ChangePlan("unchanged", ["192.0.2.10"], ["192.0.2.10"], old_ttl=300, new_ttl=300)
REVERSE = ["2.0.192.in-addr.arpa"]
OWNED = ApplicationError("the PTR belongs to another account", type="NameOwnedByAnotherAccount")


async def attention(env: WorkflowEnvironment, store: FakeStore, count: int) -> None:
    while store.statuses().count("NEEDS_ATTENTION") < count:
        await env.sleep(PROPAGATION_POLICY.propagation_interval_seconds)


async def act(env: WorkflowEnvironment, workflow_id: str, action: str) -> None:
    handle = env.client.get_workflow_handle(workflow_id)
    await handle.execute_update(DnsProvisioningWorkflow.act, OperatorAction(action, "alice", "recorded"))


async def cancel_after_restore(env: WorkflowEnvironment, store: FakeStore) -> str:
    """ROLLBACK_STANDS: a rollback's restore applied, not yet served everywhere; cancel: ROLLED_BACK."""
    store.behind, store.plan = {"127.0.0.2"}, REPLACE
    handle = await start(env, request_spec(), policy=PROPAGATION_POLICY)
    await attention(env, store, 1)
    await act(env, handle.id, "rollback")
    await attention(env, store, 2)
    await act(env, handle.id, "cancel")
    await handle.result()
    return handle.id


async def ptr_failed_cancel_refused(env: WorkflowEnvironment, store: FakeStore) -> str:
    """SERVED_IS_TOO_LATE: the PTR child is refused; a cancel signal is too late, logged; resolve."""
    store.fail_types = {"PTR": OWNED}
    handle = await start(env, request_spec(), reverse_zones=REVERSE)
    while "NEEDS_ATTENTION" not in store.statuses():
        await asyncio.sleep(0.05)
    await handle.signal(DnsProvisioningWorkflow.action, OperatorAction("cancel", "bob", "recorded"))
    while not any("too late" in s.message for s in store.steps.values()):
        await asyncio.sleep(0.05)
    await act(env, handle.id, "resolve")
    await handle.result()
    return handle.id


async def rollback_after_retry(env: WorkflowEnvironment, store: FakeStore) -> str:
    """SNAPSHOT_FROM_FIRST_PLAN: a retry re-plans; the rollback restores the first plan's snapshot."""
    store.behind, store.plan = {"127.0.0.2"}, REPLACE
    handle = await start(env, request_spec(), policy=PROPAGATION_POLICY)
    await attention(env, store, 1)
    store.plan = SEEN_AFTER_APPLY
    await act(env, handle.id, "retry")
    await attention(env, store, 2)
    store.behind_serves = ["192.0.2.1"]
    await act(env, handle.id, "rollback")
    await handle.result()
    return handle.id


SCENARIOS: dict[str, Callable[[WorkflowEnvironment, FakeStore], Awaitable[str]]] = {
    "cancel_after_restore": cancel_after_restore,
    "ptr_failed_cancel_refused": ptr_failed_cancel_refused,
    "rollback_after_retry": rollback_after_retry,
}


async def main() -> None:
    await record_all(STORY, SCENARIOS, FakeStore)


if __name__ == "__main__":
    asyncio.run(main())
