"""The start of DnsProvisioningWorkflow's run: which rules (patches) it follows, the request's row and
its first status, all at once once lean. Deterministic code only."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.database import DatabaseActivities
    from dnsorch.contracts import PTR_SOURCE, ProvisioningInput, RequestStatus
    from workflows.bookkeeping import call, transition
    from workflows.messages import awaiting, needs, scheduled, started
    from workflows.patches import (
        FEWER_ROUND_TRIPS,
        FEWER_STEPS_TO_APPLY,
        LEAN_REQUEST,
        PLAN_BEFORE_APPLY,
        TURN_BEFORE_PLAN,
        VERIFY_EVERYWHERE,
        patched,
    )
    from workflows.run_state import RequestRun
    from workflows.schedule import scheduled_for
    from workflows.story import Story

S = RequestStatus


async def begin(run: RequestRun, params: ProvisioningInput) -> None:
    """1. The patches in force. 2. The row (if the accepting process died first) and the first
    status: SCHEDULED, PENDING_APPROVAL, NEEDS_ATTENTION (drift) or IN_PROGRESS."""
    run.params = params
    run.state.request_id = params.request.request_id
    run.lean = patched(LEAN_REQUEST)
    run.plan_first = run.lean and patched(PLAN_BEFORE_APPLY)
    run.everywhere = run.plan_first and patched(VERIFY_EVERYWHERE)
    run.turn_first = run.plan_first and patched(TURN_BEFORE_PLAN)
    run.fewer_round_trips = run.everywhere and patched(FEWER_ROUND_TRIPS)
    run.fewer_steps = run.fewer_round_trips and run.turn_first and patched(FEWER_STEPS_TO_APPLY)
    run.story = Story.begin(live=run.everywhere)
    run.not_before = scheduled_for(params.request.not_before) if run.turn_first else None
    if run.lean:  # the row and the first status, at once
        if run.not_before is not None:
            await transition(run, S.SCHEDULED, scheduled(run.not_before), step="schedule", begin=True)
        elif params.approval_required:
            await transition(run, S.PENDING_APPROVAL, awaiting(params), step="approval", begin=True)
        elif params.attention_reason:  # raised for an operator (drift): nothing is applied unasked
            run.state.last_error = params.attention_reason
            await transition(
                run, S.NEEDS_ATTENTION, needs(params.attention_reason), step="attention", begin=True
            )
        else:  # straight to the freeze check, in this workflow task: the first write asks it
            request = params.request
            run.freeze_with_begin = run.fewer_steps and not request.dry_run and request.source != PTR_SOURCE
            await transition(run, S.IN_PROGRESS, started(params), step="apply", begin=True)
    else:
        await call(run, DatabaseActivities.ensure_request_row, params.request)
    run.row_ready = True
