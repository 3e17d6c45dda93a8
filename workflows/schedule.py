"""Scheduled changes, for DnsProvisioningWorkflow (issue 26): a request with `not_before` waits in
SCHEDULED on a durable timer, then goes on as any request: approval if its policy holds it, the
name's turn (where an owner who lost the name meanwhile is refused), a plan against what DNS serves
then, the apply. Until its time an operator may cancel it or move it (`reschedule`, an Update).
Deterministic code only.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.judging import JudgingActivities
    from dnsorch.contracts import RequestStatus, Reschedule
    from dnsorch.requests.transitions import IllegalTransition
    from workflows.bookkeeping import log, transition
    from workflows.messages import awaiting
    from workflows.operators import end_by, take_legal
    from workflows.outcome import note_text
    from workflows.patches import patched
    from workflows.policy import DB_RETRY, DB_TIMEOUT
    from workflows.primary import ask_primary
    from workflows.run_state import RequestRun

S = RequestStatus

# A request with `not_before` in the future begins SCHEDULED and waits for its time.
SCHEDULED_CHANGES = "scheduled-changes"
# At its time a scheduled request plans against what DNS serves then, for its approvers to see, and
# the approval policy judges it again on the zone as it is then: a change routine at accept may be
# risky now, and waits for approval. A plan that differs again under the name's turn asks the
# approvers once more (plan.held_for_changed_plan).
JUDGED_WHEN_DUE = "judged-when-due"


def scheduled_for(not_before: datetime | None) -> datetime | None:
    """The time to wait for, when the request is scheduled and the time is still ahead."""
    if not_before is None or not_before <= workflow.now() or not patched(SCHEDULED_CHANGES):
        return None
    return not_before


async def wait_for_time(run: RequestRun) -> None:
    """A scheduled request waits for its time; then, if held for approval, it waits in
    PENDING_APPROVAL (approvers judge the change when it is due)."""
    if run.not_before is None:
        return
    await _wait_for_schedule(run)
    if patched(JUDGED_WHEN_DUE):
        await _judge_when_due(run)
    assert run.params is not None
    if run.params.approval_required:
        await transition(run, S.PENDING_APPROVAL, awaiting(run.params), step="approval")


async def _judge_when_due(run: RequestRun) -> None:
    """1. Plan against what the primary serves now (a preview: the plan under the name's turn comes
    after the approval), and put it on the timeline. 2. A request its policy let through at accept
    is judged again on the zone's facts now; held, it needs the approvals its risks ask for now."""
    assert run.params is not None
    request = run.request
    preview = await ask_primary(run.change())
    run.due_plan = preview
    run.state.plan = dataclasses.asdict(preview)
    text = preview.describe(f"{request.record_type} {request.domain}")
    await log(run, f"plan at its time: {text}", step="plan", plan=run.state.plan)
    if run.params.approval_required or request.dry_run:
        return
    judged = await workflow.execute_local_activity_method(
        JudgingActivities.judge_request,
        request,
        start_to_close_timeout=DB_TIMEOUT,
        retry_policy=DB_RETRY,
    )
    if judged.required:
        reasons = [f"{reason} (judged at its time)" for reason in judged.reasons]
        run.params = dataclasses.replace(
            run.params, approval_required=True, approval_reasons=reasons, approvals_required=judged.approvers
        )


async def _wait_for_schedule(run: RequestRun) -> None:
    """1. Sleep until `not_before` on a durable timer. 2. An operator's cancel ends the request
    meanwhile (raises Outcome). 3. A reschedule moves the time and is logged; then back to 1."""
    while run.not_before is not None and (left := run.not_before - workflow.now()) > timedelta(0):
        try:
            await workflow.wait_condition(lambda: bool(run.queue or run.moved), timeout=left)
        except TimeoutError:
            return
        if run.moved:
            moved = run.moved.pop(0)
            run.not_before = moved.not_before
            await log(
                run,
                f"rescheduled by {moved.actor}{note_text(moved.note)} for {moved.not_before.isoformat()}",
                step="schedule",
                actor=moved.actor,
                not_before=moved.not_before,
            )
            continue
        if (taken := await take_legal(run)) is not None:
            ticket, action = taken
            end_by(action, ticket)


async def reschedule(run: RequestRun, moved: Reschedule) -> str:
    """The `reschedule` update: move a scheduled request's time; answers its status (still SCHEDULED)."""
    run.moved.append(moved)
    await workflow.wait_condition(lambda: moved not in run.moved)
    return run.state.status


def check_reschedule(run: RequestRun, moved: Reschedule) -> None:
    """The `reschedule` update's validator."""
    if run.state.status != S.SCHEDULED:
        raise IllegalTransition(
            f"only a SCHEDULED request can be rescheduled; this one is {run.state.status}"
        )
    if moved.not_before <= workflow.now():
        raise IllegalTransition(f"{moved.not_before.isoformat()} is not in the future")
