"""SCHEDULED_CHANGES stays replay-safe: histories that take its new branches (tests/replay/record_schedule.py)
replay with the current code, and without the patch's marker they no longer fit (the timer
and its status are new commands)."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.replay import REPLAY_HISTORIES
from workflows.provisioning import DnsProvisioningWorkflow
from workflows.schedule import SCHEDULED_CHANGES

HISTORIES = REPLAY_HISTORIES / "scheduled-changes"
RECORDED = ["waited_then_completed", "rescheduled_then_cancelled"]


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", RECORDED)
async def test_a_scheduled_change_history_replays(name: str) -> None:
    result = await Replayer(workflows=[DnsProvisioningWorkflow]).replay_workflow(
        history(name), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_scheduled_change_history_needs_its_patch_marker(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    real = workflow.patched
    monkeypatch.setattr(
        workflow, "patched", lambda patch_id: patch_id != SCHEDULED_CHANGES and real(patch_id)
    )
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history(name), raise_on_replay_failure=False)
    assert result.replay_failure is not None, f"{name} replays without {SCHEDULED_CHANGES}"
