"""The attempts, for DnsProvisioningWorkflow: the turn, the plan, the apply and the verification,
tried again at an operator's `retry` (or undone at a `rollback`) while the request waits in
NEEDS_ATTENTION, until it ends; then the final status with the record DNS serves. Deterministic
code only."""

from __future__ import annotations

import dataclasses

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.database import DatabaseActivities
    from dnsorch.contracts import DRIFT_SOURCE, Action, OperatorAction, RequestStatus, WorkflowState
    from workflows.apply import Settle, applied_anyway, apply_change
    from workflows.bookkeeping import call, flush, log, record_row, transition
    from workflows.cancel_check import IN_TEMPORAL, Unsettled, settle_cancel
    from workflows.live_dns import keep_ptrs, tell_forward_request, undo
    from workflows.messages import STARTED, needs, serves
    from workflows.operators import attention_deadline, end_by, next_action
    from workflows.outcome import Outcome, note
    from workflows.plan import held_for_changed_plan, held_for_dangling_targets, plan
    from workflows.ptrs import keep_applied_ptrs, keeps_ptrs_in_apply, plan_ptrs, ptrs_served, verify_ptrs
    from workflows.run_state import RequestRun
    from workflows.ttl_dance import lead_in, restore, served_ttl
    from workflows.turn import check_not_superseded, take_turn
    from workflows.verify import verify_everywhere

S, A = RequestStatus, Action
AT_DEADLINE = OperatorAction(A.FAIL.value, "workflow", "failed at the deadline (no operator action in time)")


async def provision(run: RequestRun, settle: Settle, *, held: bool = False) -> None:
    """Attempt the change until it ends; `held`: it already waits in NEEDS_ATTENTION for a first retry."""
    rollback: OperatorAction | None = None  # the operator's choice in NEEDS_ATTENTION: undo
    while True:
        try:
            if held:
                held = False
            elif rollback is None:
                await attempt(run, settle)
            else:
                await undo(run, rollback.actor, f" by {rollback.actor}{note(rollback)}", settle)
            if run.state.status != S.NEEDS_ATTENTION:
                await transition(run, S.NEEDS_ATTENTION, needs(run.state.last_error), step="attention")
                await tell_forward_request(run)  # a PTR request waits on its own
            await flush(run)  # an operator may take days: no line waits unwritten
            try:
                ticket, action = await next_action(run, attention_deadline(run))
            except Outcome:  # the deadline: a TTL dance puts the old TTL back first
                if run.dance is not None:
                    await settle_cancel(run, AT_DEADLINE, 0, ended=AT_DEADLINE.note)
                raise
            if action.action not in (A.RETRY, A.ROLLBACK):
                await settle_cancel(run, action, ticket)
                end_by(action, ticket)
        except Unsettled:  # a cancel could not learn what DNS serves: it waits in NEEDS_ATTENTION
            held, rollback = True, None
            continue
        verb = "rollback" if action.action == A.ROLLBACK else "retry"
        await log(run, f"{verb} requested by {action.actor}{note(action)}", actor=action.actor)
        run.done_tickets.add(ticket)
        rollback = action if action.action == A.ROLLBACK else None


async def attempt(run: RequestRun, settle: Settle) -> None:
    """1. IN_PROGRESS. 2. The name's turn. 3. A drift request checks it is not superseded. 4. The plan
    (and, if it holds the request for approval, the turn and the plan again), and its PTRs' turns and
    plans (PTR_IN_APPLY). 5. The apply, PTRs included. 6. Every authoritative server serves it. 7. The
    PTRs are served (or, before PTR_IN_APPLY, their child requests ran). Returns (with `last_error`
    set) when it needs an operator; raises Outcome when the request ends."""
    if run.state.status != S.IN_PROGRESS:  # lean: a request not held for approval begins so
        await transition(run, S.IN_PROGRESS, STARTED, step="apply")
    # fewer-steps-to-apply: the plan is read with the turn, but not across a drift request's check
    with_plan = run.fewer_steps and run.request.source != DRIFT_SOURCE
    found = None
    if run.turn_first:
        found = await take_turn(run, run.change(), settle, plan=with_plan)
    if run.request.source == DRIFT_SOURCE:
        await check_not_superseded(run)
    if run.plan_first:
        await plan(run, found)
        if await held_for_dangling_targets(run) or await held_for_changed_plan(run):
            # approved: plan again at the next turn
            found = None
            if run.turn_first:
                found = await take_turn(run, run.change(), settle, plan=with_plan)
            await plan(run, found)
    if (change := await lead_in(run, settle)) is None:  # a TTL dance lowers the TTL and waits first
        return
    ptrs = await plan_ptrs(run, settle) if keeps_ptrs_in_apply(run) else []
    result = await apply_change(run, change, settle, ptrs=ptrs or None)
    if result is None:
        return
    if run.everywhere:
        problem = await verify_everywhere(run, change, result.served_at)
        if problem is not None:
            run.state.last_error = problem
            await log(run, f"verification failed: {problem}", step="verify")
            assert run.params is not None
            if run.params.policy.rollback_on_verify_failure and run.snapshot is not None:
                await undo(run, "workflow", f": {problem}", settle)
            return
        run.story.everywhere = True
        run.served_at = workflow.now()
        if (problem := await restore(run, settle)) is not None:  # a TTL dance restores the TTL
            run.state.last_error = problem
            return
    problem = await verify_ptrs(run) if run.ptrs_in_apply else await keep_ptrs(run, settle)
    if problem is not None:
        run.state.last_error = problem
        return
    waiting = run.story.ptrs_left_waiting() or ptrs_served(run)
    raise Outcome(S.COMPLETED, serves(result) + (f"; {waiting}" if waiting else ""), store_record=True)


async def _settled_in_temporal(run: RequestRun, settle: Settle) -> Outcome | None:
    """A cancel in Temporal (cannot be refused): the ending DNS's answer decides, None for
    CANCELLED; when the primary cannot be asked, the request waits for an operator instead."""
    try:
        await settle_cancel(run, IN_TEMPORAL, 0, asked="cancel in Temporal", ended="cancelled in Temporal")
    except Outcome as outcome:
        return outcome
    except Unsettled:
        try:
            await provision(run, settle, held=True)
        except Outcome as outcome:
            return outcome
    return None


async def end(run: RequestRun, outcome: Outcome) -> None:
    """Write the final status, with the record DNS serves when there is one."""
    outcome = run.story.settle(outcome, run.snapshot, run.change().values)
    record = record_row(run) if outcome.store_record else None
    if record is not None:
        keep_applied_ptrs(run)
    if record is not None and (ttl := await served_ttl(run)) is not None:  # a dance stopped at step 5
        record = dataclasses.replace(record, ttl=ttl)
    if record is not None and not run.lean:
        await call(run, DatabaseActivities.store_record, record)
        record = None
    await transition(
        run, outcome.status, outcome.message, step="finished", actor=outcome.actor, record=record
    )
    run.done_tickets.add(outcome.ticket)


async def finish(run: RequestRun) -> WorkflowState:
    """Answer the actions that arrived too late, and return once every handler has finished."""
    for ticket, _ in run.queue:  # their updates must return
        run.done_tickets.add(ticket)
    run.queue.clear()
    await workflow.wait_condition(workflow.all_handlers_finished)
    return run.state


async def cancelled_in_temporal(run: RequestRun, settle: Settle) -> Outcome | None:
    """Cancelled from the Temporal UI/CLI: stop the playbook; what DNS serves decides the ending
    (None: CANCELLED)."""
    if run.apply_handle is not None and not run.apply_handle.done():
        run.apply_handle.cancel()
    if (ending := run.story.cancelled_in_temporal(applied_anyway(run))) is None:
        ending = await _settled_in_temporal(run, settle)  # the apply is stopped: what does DNS serve?
    return ending
