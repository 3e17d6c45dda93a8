"""Operators steering DnsProvisioningWorkflow: what its signals, updates and query (on the class, in
workflows/provisioning.py) do, and the queue that hands their actions to the request's flow, one at a
time. The Temporal UI, the CLI and API v2 use them.

An action illegal in the request's state is refused by an update's validator (so it never enters the
history) and logged and dropped when it comes as a signal.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import (
        Action,
        OperatorAction,
        RequestStatus,
        StatusChange,
        WorkflowState,
    )
    from dnsorch.requests.transitions import (
        IllegalTransition,
        action_for_status,
        allowed_actions,
        check_action,
    )
    from workflows.bookkeeping import log, transition
    from workflows.outcome import Outcome, note, note_text
    from workflows.patches import patched
    from workflows.run_state import RequestRun
    from workflows.story import TooLate

S, A = RequestStatus, Action

# A v1 manual status that is no action in the request's state is a note (patched in; docs/workflow.md).
MANUAL_STATUS_IS_A_NOTE = "manual-status-is-a-note"


async def on_action(run: RequestRun, action: OperatorAction) -> None:
    """The `action` signal (Temporal UI/CLI): an action illegal in the current state is logged and dropped."""
    await workflow.wait_condition(lambda: run.row_ready)
    try:
        check(run, action.action)
    except IllegalTransition as refused:
        await log(run, f"action ignored: {refused}", actor=action.actor)
        return
    enqueue(run, action)


async def carried_out(run: RequestRun, action: OperatorAction) -> str:
    """Queue an action checked by an update's validator; answers the status once it is carried out."""
    ticket = enqueue(run, action)
    await workflow.wait_condition(lambda: ticket in run.done_tickets)
    if (why := run.refusals.pop(ticket, None)) is not None:
        raise ApplicationError(why, type="ActionRefused", non_retryable=True)
    return run.state.status


def status_action(run: RequestRun, change: StatusChange) -> Action:
    """The action a manual status means here (FAILED → fail, …); raises IllegalTransition."""
    return check(run, action_for_status(run.state.status, change.status))


async def on_update_status(run: RequestRun, change: StatusChange) -> None:
    """API v1's manual status (signal): an action where one fits, else a recorded status change."""
    await workflow.wait_condition(lambda: run.row_ready)
    status = run.state.status
    if status in (s.value for s in S if s.is_terminal):
        await log(run, f"manual status {change.status} ignored: request already {status}", actor=change.actor)
        return
    try:
        action = status_action(run, change)
    except IllegalTransition as refused:
        if patched(MANUAL_STATUS_IS_A_NOTE):
            # Only the workflow's own code moves its status: a status that is no action here is
            # a note, or an operator could put the request in a state its code is not in.
            why = str(refused) if isinstance(refused, TooLate) else f"no action in {status}"
            await log(
                run,
                f"manual status {change.status} noted ({why}){note_text(change.message)}",
                actor=change.actor,
            )
            return
        if change.status not in S.__members__ or S(change.status).is_terminal:
            await log(run, f"manual status {change.status} ignored in {status}", actor=change.actor)
            return
        await transition(
            run,
            S(change.status),
            f"status set by {change.actor}{note_text(change.message)}",
            step="manual",
            actor=change.actor,
        )
        return
    enqueue(run, OperatorAction(action.value, change.actor, change.message))


def current_state(run: RequestRun) -> WorkflowState:
    """The `state` query: the state with the actions legal now."""
    allowed = allowed_actions(run.state.status)
    run.state.allowed_actions = [a for a in allowed if refusal(run, A(a)) is None]
    return run.state


def check(run: RequestRun, action: str) -> Action:
    """The transition table, plus this request's own rules (`refusal`)."""
    chosen = check_action(run.state.status, action)
    if (refused := refusal(run, chosen)) is not None:
        raise refused
    return chosen


def refusal(run: RequestRun, action: Action) -> IllegalTransition | None:
    """A rollback needs the plan's snapshot; cancel and fail come too late once DNS serves the
    change everywhere (workflows/story.py)."""
    if action == A.ROLLBACK and run.snapshot is None:
        return IllegalTransition("cannot roll back: there is no snapshot of what DNS served before")
    return run.story.refusal(action, run.state.status)


def enqueue(run: RequestRun, action: OperatorAction) -> int:
    run.next_ticket += 1
    run.queue.append((run.next_ticket, action))
    return run.next_ticket


async def take_legal(run: RequestRun) -> tuple[int, OperatorAction] | None:
    """Take the first queued action; None when the state moved on and it is illegal now (it is
    logged as ignored, and its update answered)."""
    ticket, action = run.queue.pop(0)
    try:
        check(run, action.action)
    except IllegalTransition as refused:
        run.done_tickets.add(ticket)
        await log(run, f"action ignored: {refused}", actor=action.actor)
        return None
    return ticket, action


async def next_action(
    run: RequestRun, deadline: timedelta | None = None, too_late: Outcome | None = None
) -> tuple[int, OperatorAction]:
    """The next operator action legal now; illegal ones (the state moved on) are logged and dropped.

    At the deadline the request ends with `too_late` (FAILED, unless told otherwise).
    """
    while True:
        try:
            await workflow.wait_condition(lambda: bool(run.queue), timeout=deadline)
        except TimeoutError:
            asked = "failing at the deadline (no operator action in time)"
            deadline_fail = Outcome(S.FAILED, "no operator action before the deadline", asked=asked)
            raise too_late or deadline_fail from None
        if (taken := await take_legal(run)) is not None:
            return taken


def attention_deadline(run: RequestRun) -> timedelta:
    assert run.params is not None
    return timedelta(seconds=run.params.policy.attention_timeout_seconds)


def end_by(action: OperatorAction, ticket: int) -> None:
    """Raise the Outcome an operator's reject, cancel, fail or resolve asks for."""
    final = {A.REJECT: S.REJECTED, A.CANCEL: S.CANCELLED, A.FAIL: S.FAILED, A.RESOLVE: S.COMPLETED}
    verb = {A.REJECT: "rejected", A.CANCEL: "cancelled", A.FAIL: "failed", A.RESOLVE: "resolved"}
    raise Outcome(
        final[A(action.action)],
        f"{verb[A(action.action)]} by {action.actor}{note(action)}",
        actor=action.actor,
        ticket=ticket,
        store_record=action.action == A.RESOLVE,  # fixed outside dnsorch: record what DNS serves
        asked=f"{action.action} by {action.actor}{note(action)}",
    )
