"""CANCEL_ASKS_DNS stays replay-safe: histories that take its new branches (tests/replay/record_cancel.py)
replay with the current code, and without the patch's marker they no longer fit (the plan that asks
the primary and the restore are new commands)."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.replay import REPLAY_HISTORIES
from workflows.cancel_check import CANCEL_ASKS_DNS, FAIL_ASKS_DNS
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = REPLAY_HISTORIES / "cancel-asks-dns"
RECORDED = ["cancel_in_flight_restores", "cancel_unanswered_then_restores", "fail_in_flight_restores"]


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", RECORDED)
async def test_a_cancel_that_asks_dns_history_replays(name: str) -> None:
    result = await Replayer(workflows=[DnsProvisioningWorkflow]).replay_workflow(
        history(name), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_cancel_that_asks_dns_history_needs_its_patch_marker(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id != CANCEL_ASKS_DNS and real(patch_id))
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history(name), raise_on_replay_failure=False)
    assert result.replay_failure is not None, f"{name} replays without {CANCEL_ASKS_DNS}"


async def test_a_fail_that_asks_dns_history_needs_its_own_patch_marker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id != FAIL_ASKS_DNS and real(patch_id))
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history("fail_in_flight_restores"), raise_on_replay_failure=False)
    assert result.replay_failure is not None, f"fail_in_flight_restores replays without {FAIL_ASKS_DNS}"
