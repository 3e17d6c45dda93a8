"""This release's smaller patches stay replay-safe (PTR_WAITS_ALONE, SERVED_STANDS_AT_TURN,
DANGLING_TARGETS, ROLLBACK_ASKS_DNS, JUDGED_WHEN_DUE, PTR_IN_APPLY, FEWER_ROUND_TRIPS): the histories
that take their new branches (tests/replay/record_patches.py) replay with the current code, and without
the patch's marker they no longer fit (each new branch is a command of its own: a forward request that
ends while its PTR request waits, the signal that tells it so, a retry that ends COMPLETED at a refused
turn, a hold for approval after the plan, the question a rollback asks the primary, a scheduled
request's plan and verdict at its time, a PTR's turn and plan, a zone's first check with its servers'
lookup)."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.replay import REPLAY_HISTORIES
from workflows.live_dns import PTR_WAITS_ALONE, ROLLBACK_ASKS_DNS
from workflows.patches import FEWER_ROUND_TRIPS
from workflows.provisioning import DANGLING_TARGETS, SERVED_STANDS_AT_TURN, DnsProvisioningWorkflow
from workflows.ptrs import PTR_IN_APPLY
from workflows.schedule import JUDGED_WHEN_DUE

HISTORIES = REPLAY_HISTORIES
RECORDED = [
    (PTR_WAITS_ALONE, "forward_completed_while_its_ptr_waits"),
    (PTR_WAITS_ALONE, "ptr_waited_then_retried"),
    (SERVED_STANDS_AT_TURN, "retry_refused_at_turn_after_served"),
    (DANGLING_TARGETS, "dangling_target_held_then_approved"),
    (ROLLBACK_ASKS_DNS, "rollback_refused_after_a_later_change"),
    (JUDGED_WHEN_DUE, "judged_risky_when_due_then_approved"),
    (JUDGED_WHEN_DUE, "plan_changed_then_approved_again"),
    (PTR_IN_APPLY, "ptr_failed_then_retried"),
    (PTR_IN_APPLY, "ptr_failed_then_rolled_back"),
    (FEWER_ROUND_TRIPS, "completed_with_its_ptr"),
    (FEWER_ROUND_TRIPS, "ptr_lagged_then_served"),
]


def history(patch: str, name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / patch / f"{name}.json").read_text())


@pytest.mark.parametrize(("patch", "name"), RECORDED)
async def test_a_history_of_the_patch_replays(patch: str, name: str) -> None:
    result = await Replayer(workflows=[DnsProvisioningWorkflow]).replay_workflow(
        history(patch, name), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


@pytest.mark.parametrize(("patch", "name"), RECORDED)
async def test_a_history_of_the_patch_needs_its_marker(
    monkeypatch: pytest.MonkeyPatch, patch: str, name: str
) -> None:
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id != patch and real(patch_id))
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history(patch, name), raise_on_replay_failure=False)
    assert result.replay_failure is not None, f"{name} replays without {patch}"
