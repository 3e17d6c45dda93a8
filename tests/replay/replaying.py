"""Replaying a recorded history with today's DnsProvisioningWorkflow, as the replay tests of each
patch do: it must replay, and without its patch's marker it must not."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.replay import REPLAY_HISTORIES
from workflows.patches import ONE_MARKER
from workflows.provisioning import DnsProvisioningWorkflow


def recorded(patch: str, name: str) -> WorkflowHistory:
    """The history `name` recorded for `patch` (tests/replay/histories/<patch>/<name>.json)."""
    return WorkflowHistory.from_json(name, (REPLAY_HISTORIES / patch / f"{name}.json").read_text())


async def replay_failure(history: WorkflowHistory, *, unpatched: str | None = None) -> Exception | None:
    """Why the history does not replay (None: it does); `unpatched`: as if `workflow.patched` answered
    False for that id, the way code from before the patch ran (code that had no ONE_MARKER either)."""
    if unpatched is None:
        replayer = Replayer(workflows=[DnsProvisioningWorkflow])
        return (await replayer.replay_workflow(history, raise_on_replay_failure=False)).replay_failure
    real = workflow.patched
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            workflow, "patched", lambda patch_id: patch_id not in (unpatched, ONE_MARKER) and real(patch_id)
        )
        replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
        return (await replayer.replay_workflow(history, raise_on_replay_failure=False)).replay_failure
