"""TURN_BEFORE_PLAN stays replay-safe: histories that take its new branches (tests/replay/record_turn.py)
replay with the current code, and without the patch's marker they no longer fit (the turn's
activities are new commands)."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.replay import REPLAY_HISTORIES
from workflows.provisioning import TURN_BEFORE_PLAN, DnsProvisioningWorkflow

HISTORIES = REPLAY_HISTORIES / "turn-before-plan"
RECORDED = ["waited_then_completed", "drift_superseded_at_its_turn", "cancelled_while_waiting"]


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", RECORDED)
async def test_a_turn_before_plan_history_replays(name: str) -> None:
    result = await Replayer(workflows=[DnsProvisioningWorkflow]).replay_workflow(
        history(name), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_turn_before_plan_history_needs_its_patch_marker(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id != TURN_BEFORE_PLAN and real(patch_id))
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history(name), raise_on_replay_failure=False)
    assert result.replay_failure is not None, f"{name} replays without {TURN_BEFORE_PLAN}"
