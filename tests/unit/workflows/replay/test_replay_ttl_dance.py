"""The TTL dance stays replay-safe (TTL_DANCE): its recorded histories (tests/replay/record_ttl_dance.py)
replay with the current code, and without the patch's marker they no longer fit (the lowering apply
is a command of its own)."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.replay import REPLAY_HISTORIES
from workflows.provisioning import DnsProvisioningWorkflow
from workflows.ttl_dance import TTL_DANCE

HISTORIES = REPLAY_HISTORIES / TTL_DANCE
RECORDED = ["dance_completed", "dance_cancelled_during_the_wait", "dance_unasked_over_the_threshold"]


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", RECORDED)
async def test_a_history_of_the_dance_replays(name: str) -> None:
    result = await Replayer(workflows=[DnsProvisioningWorkflow]).replay_workflow(
        history(name), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_history_of_the_dance_needs_its_marker(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id != TTL_DANCE and real(patch_id))
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history(name), raise_on_replay_failure=False)
    assert result.replay_failure is not None, f"{name} replays without {TTL_DANCE}"
