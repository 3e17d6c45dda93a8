"""RESOLVE_ASKS_DNS stays replay-safe: histories that take its new branches (tests/replay/record_resolve.py)
replay with the current code, and without the patch's marker they no longer fit (the plan that asks
the primary is a new command)."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.replay import REPLAY_HISTORIES
from workflows.provisioning import DnsProvisioningWorkflow
from workflows.resolve_check import RESOLVE_ASKS_DNS

HISTORIES = REPLAY_HISTORIES / "resolve-asks-dns"
RECORDED = ["refused_unanswered_then_fixed", "in_flight_never_sent"]


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


@pytest.mark.parametrize("name", RECORDED)
async def test_a_resolve_that_asks_dns_history_replays(name: str) -> None:
    result = await Replayer(workflows=[DnsProvisioningWorkflow]).replay_workflow(
        history(name), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


@pytest.mark.parametrize("name", RECORDED)
async def test_a_resolve_that_asks_dns_history_needs_its_patch_marker(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id != RESOLVE_ASKS_DNS and real(patch_id))
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history(name), raise_on_replay_failure=False)
    assert result.replay_failure is not None, f"{name} replays without {RESOLVE_ASKS_DNS}"
