"""FEWER_STEPS_TO_APPLY stays replay-safe: histories recorded with it (tests/replay/record_fewer_steps.py)
replay with the current code, and without the patch's marker they no longer fit (the folded local
activities are other commands)."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.replay import REPLAY_HISTORIES
from workflows.patches import FEWER_STEPS_TO_APPLY
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = REPLAY_HISTORIES / "fewer-steps-to-apply"
RECORDED = [
    "completed_with_its_ptr",
    "ptr_turn_waited",
    "frozen_then_completed",
    "dangling_target_approved",
    "dry_run",
]


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


def test_every_recorded_history_is_listed() -> None:
    assert sorted(path.stem for path in HISTORIES.glob("*.json")) == sorted(RECORDED)


@pytest.mark.parametrize("name", RECORDED)
async def test_a_fewer_steps_history_replays(name: str) -> None:
    result = await Replayer(workflows=[DnsProvisioningWorkflow]).replay_workflow(
        history(name), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_fewer_steps_history_needs_its_patch_marker(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    real = workflow.patched
    monkeypatch.setattr(
        workflow, "patched", lambda patch_id: patch_id != FEWER_STEPS_TO_APPLY and real(patch_id)
    )
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history(name), raise_on_replay_failure=False)
    assert result.replay_failure is not None, f"{name} replays without {FEWER_STEPS_TO_APPLY}"
