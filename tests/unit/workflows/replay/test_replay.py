"""Workflow code must stay replay-safe: recorded histories of every path replay without error.

Two sets: `histories/*.json` were recorded (time-skipping server, stub activities) before the
`workflow.patched` changes, so they stand for workflows started by older code and prove the
patches keep them running; `histories/live/<release>/` were recorded from real runs on the dev
stack (tests/replay/record_live.py), one set per release that changed the workflow; from
freeze-windows on, a set also holds a RecordExpiryWorkflow run (it waits up to a year, so its first
versioned change must keep it replaying), replayed with that class registered. A change
that makes this fail would break workflows already running in production: version it, never
re-record to make it pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from dnsorch.contracts import ProvisioningInput, WorkflowState
from tests.replay import REPLAY_HISTORIES
from workflows.expiry import RecordExpiryWorkflow
from workflows.name_lock import DnsNameLockWorkflow
from workflows.provisioning import DnsProvisioningWorkflow

REPLAY = REPLAY_HISTORIES
HISTORIES = sorted(REPLAY.glob("*.json"))
LIVE = sorted((REPLAY / "live").glob("*/*.json"))  # live/<release's newest patch>/


def test_histories_cover_the_main_paths() -> None:
    assert {p.stem for p in HISTORIES} >= {
        "completed",
        "attention_then_retry",
        "approval_rejected",
        "manual_fail_during_apply",
    }


def test_live_histories_cover_every_workflow_type_and_every_release() -> None:
    names = {(p.parent.name, p.stem) for p in LIVE}
    releases = (
        "wait-for-apply-to-stop",
        "lean-request",
        "plan-before-apply",
        "automatic-ptr",
        "fail-asks-dns",
    )
    for release in releases:
        for path in ("create_completed", "approved_completed", "fail_during_apply", "attention_then_retry"):
            assert (release, path) in names
    assert any(stem.startswith("name_lock_") for _, stem in names)
    for release in ("plan-before-apply", "fail-asks-dns"):
        assert (release, "dry_run_completed") in names
    # verify-everywhere, approval-deadline and automatic-ptr shipped together (set: automatic-ptr)
    for release in ("automatic-ptr", "fail-asks-dns"):
        for path in ("ptr_child_completed", "attention_then_rollback", "approval_timed_out"):
            assert (release, path) in names
    # rollback-stands, served-is-too-late, snapshot-from-first-plan, cancel-asks-dns, turn-before-plan
    # and fail-asks-dns shipped together (set: fail-asks-dns, the last to land)
    for path in (
        "cancel_in_flight_restores",
        "cancel_unanswered_then_restores",
        "fail_in_attention_restores",
        "turn_holder_completed",
        "waited_for_turn_completed",
    ):
        assert ("fail-asks-dns", path) in names
    # ptr-waits-alone, dangling-targets, distinct-approvers, scheduled-changes, freeze-windows and
    # RecordExpiryWorkflow shipped together (set: freeze-windows, the last to land); drift and PTR too
    for path in (
        "create_completed",
        "fail_during_apply",
        "waited_for_turn_completed",
        "drift_attention_then_retry",
        "ptr_forward_completed_alone",
        "ptr_attention_then_retry",
        "dangling_target_held_then_approved",
        "scheduled_waited_then_completed",
        "rescheduled_then_cancelled",
        "two_approvers_completed",
        "frozen_let_through",
        "frozen_until_window_ended",
        "expiring_create_completed",
        "expiry_delete_completed",
        "expiry_deleted_at_expiry",
    ):
        assert ("freeze-windows", path) in names


def test_the_live_expiry_history_is_a_record_expiry_workflow() -> None:
    """RecordExpiryWorkflow waits up to a year: its recorded run is what its first patch must keep."""
    path = REPLAY / "live" / "freeze-windows" / "expiry_deleted_at_expiry.json"
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.workflow_type.name == "RecordExpiryWorkflow"


async def test_a_lean_history_fails_to_replay_on_the_code_from_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Guard the lean-request patch: the code's old branch (patched false) no longer fits."""
    history = WorkflowHistory.from_json(
        "lean", (REPLAY / "live" / "lean-request" / "create_completed.json").read_text()
    )
    monkeypatch.setattr(workflow, "patched", lambda _id: False)
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


@pytest.mark.parametrize(
    ("release", "patch", "recorded"),
    [
        ("automatic-ptr", "verify-everywhere", "create_completed"),
        ("automatic-ptr", "automatic-ptr", "create_completed"),
        ("automatic-ptr", "approval-deadline", "approval_timed_out"),
        ("fail-asks-dns", "cancel-asks-dns", "cancel_in_flight_restores"),
        ("fail-asks-dns", "fail-asks-dns", "fail_in_attention_restores"),
        ("fail-asks-dns", "turn-before-plan", "waited_for_turn_completed"),
        ("freeze-windows", "ptr-waits-alone", "ptr_forward_completed_alone"),
        ("freeze-windows", "dangling-targets", "dangling_target_held_then_approved"),
        ("freeze-windows", "distinct-approvers", "two_approvers_completed"),
        ("freeze-windows", "scheduled-changes", "scheduled_waited_then_completed"),
        ("freeze-windows", "scheduled-changes", "rescheduled_then_cancelled"),
        ("freeze-windows", "freeze-windows", "frozen_let_through"),
        ("freeze-windows", "freeze-windows", "frozen_until_window_ended"),
    ],
)
async def test_each_new_patch_is_what_keeps_its_history_replaying(
    monkeypatch: pytest.MonkeyPatch, release: str, patch: str, recorded: str
) -> None:
    """Without its patch (that one branch taken as for old workflows), the recording no longer fits:
    the patch, not luck, separates the old behaviour from the new."""
    history = WorkflowHistory.from_json(
        recorded, (REPLAY / "live" / release / f"{recorded}.json").read_text()
    )
    real = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: False if patch_id == patch else real(patch_id))
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


@pytest.mark.parametrize("path", HISTORIES + LIVE, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[DnsProvisioningWorkflow, DnsNameLockWorkflow, RecordExpiryWorkflow])
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


async def test_a_history_from_before_a_patch_fails_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard the patches: with `workflow.patched` always true (as if the change had shipped
    unversioned), the pre-patch manual-fail history no longer replays."""
    history = WorkflowHistory.from_json("old", (REPLAY / "manual_fail_during_apply.json").read_text())
    monkeypatch.setattr(workflow, "patched", lambda _id: True)
    replayer = Replayer(workflows=[DnsProvisioningWorkflow], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None


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
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[ChangedWorkflow]).replay_workflow(history)
