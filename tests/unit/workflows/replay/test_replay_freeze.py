"""FREEZE_WINDOWS stays replay-safe: histories that take its new branches (tests/replay/record_freeze.py)
replay with the current code, and without the patch's marker they no longer fit (the freeze check,
the FROZEN status, its timer and the emergency line are new commands)."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.replay import REPLAY_HISTORIES
from workflows.freeze import FREEZE_WINDOWS
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = REPLAY_HISTORIES / "freeze-windows"
RECORDED = [
    "waited_then_completed",
    "let_through",
    "cancelled_while_frozen",
    "ended_early",
    "emergency_passes",
]


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", RECORDED)
async def test_a_freeze_history_replays(name: str) -> None:
    result = await Replayer(workflows=[DnsProvisioningWorkflow]).replay_workflow(
        history(name), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_freeze_history_needs_its_patch_marker(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id != FREEZE_WINDOWS and real(patch_id))
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history(name), raise_on_replay_failure=False)
    assert result.replay_failure is not None, f"{name} replays without {FREEZE_WINDOWS}"
