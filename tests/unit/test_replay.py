"""Workflow code must stay replay-safe: recorded histories of every path replay without error.

A change that makes this fail would break workflows already running in production. Version
the change (`workflow.patched`) rather than re-recording; see tests/replay/record.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from dnsorch.contracts import ProvisioningInput, WorkflowState
from workflows.provisioning import DnsProvisioningWorkflow

HISTORIES = sorted((Path(__file__).parent.parent / "replay" / "histories").glob("*.json"))


def test_histories_cover_the_main_paths() -> None:
    assert {p.stem for p in HISTORIES} >= {
        "completed",
        "attention_then_retry",
        "approval_rejected",
        "manual_fail_during_apply",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(f"dns-request-{path.stem}", path.read_text())
    await Replayer(workflows=[DnsProvisioningWorkflow]).replay_workflow(history)


@workflow.defn(name="DnsProvisioningWorkflow")
class ChangedWorkflow(DnsProvisioningWorkflow):
    """Does something else at the same point: a timer where the history has an activity."""

    @workflow.run
    async def run(self, params: ProvisioningInput) -> WorkflowState:
        await workflow.sleep(1)
        return await super().run(params)


async def test_a_nondeterministic_change_is_caught() -> None:
    """Guard the guard: the replay test would notice a breaking change."""
    history = WorkflowHistory.from_json("changed", HISTORIES[0].read_text())
    with pytest.raises(Exception, match=r"[Nn]ondetermin"):
        await Replayer(workflows=[ChangedWorkflow]).replay_workflow(history)
