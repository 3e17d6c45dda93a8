"""The activity that asks a name's lock workflow for the lock (a workflow cannot signal-with-start)."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from dnsorch.contracts import LockRequest, LockState

LOCK_WORKFLOW = "DnsNameLockWorkflow"
"""The lock's registered workflow name (workflows/name_lock.py): started by name, so that no activity
imports a workflow."""


class NameLockActivities:
    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name="request_name_lock")
    async def request_name_lock(self, request: LockRequest) -> None:
        """Queue `holder` on the lock, starting the lock workflow if none runs (idempotent)."""
        await self.client.start_workflow(
            LOCK_WORKFLOW,
            LockState(),
            id=request.lock_id,
            task_queue=activity.info().task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal="acquire",
            start_signal_args=[request.holder],
            static_summary=f"serialises changes to {request.lock_id.removeprefix('dns-name-lock-')}",
        )
