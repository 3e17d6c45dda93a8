"""The "one true story" patches stay replay-safe: histories that take their new branches
(tests/replay/record_story.py) replay with the current code, and each carries its patch's marker.

Only SERVED_IS_TOO_LATE changes which commands a workflow issues (a refused action keeps it waiting);
ROLLBACK_STANDS and SNAPSHOT_FROM_FIRST_PLAN change the final status and activity inputs (what is
recorded, what a restore writes), which replay does not compare: their histories guard the markers."""

from __future__ import annotations

import dataclasses

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from tests.replay import REPLAY_HISTORIES
from workflows.provisioning import DnsProvisioningWorkflow
from workflows.story import ROLLBACK_STANDS, SERVED_IS_TOO_LATE, SNAPSHOT_FROM_FIRST_PLAN, Story

STORY = REPLAY_HISTORIES / "true-story"
RECORDED = {
    "cancel_after_restore": ROLLBACK_STANDS,
    "ptr_failed_cancel_refused": SERVED_IS_TOO_LATE,
    "rollback_after_retry": SNAPSHOT_FROM_FIRST_PLAN,
}


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (STORY / f"{name}.json").read_text())


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_a_true_story_history_replays(name: str) -> None:
    result = await Replayer(workflows=[DnsProvisioningWorkflow]).replay_workflow(
        history(name), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


@pytest.mark.parametrize(("name", "patch"), sorted(RECORDED.items()))
async def test_each_true_story_history_needs_its_patch_marker(
    monkeypatch: pytest.MonkeyPatch, name: str, patch: str
) -> None:
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: False if patch_id == patch else real(patch_id))
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history(name), raise_on_replay_failure=False)
    assert result.replay_failure is not None, f"{name} replays without {patch}"


async def test_without_the_too_late_rule_a_refused_cancel_history_no_longer_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The marker kept, the rule off: the cancel the history refused would end the request."""
    begin = Story.begin.__func__  # type: ignore[attr-defined]

    def without_rule(cls: type[Story], live: bool) -> Story:
        return dataclasses.replace(begin(cls, live), served_is_too_late=False)

    monkeypatch.setattr(Story, "begin", classmethod(without_rule))
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(
        history("ptr_failed_cancel_refused"), raise_on_replay_failure=False
    )
    assert result.replay_failure is not None
