"""Live DNS, for DnsProvisioningWorkflow: a change that must not stay is rolled back to the plan's
snapshot, and an A or AAAA record keeps its PTR through child requests. A change counts once every
authoritative server of its zone serves it (workflows/verify.py). Deterministic code only."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, FailureError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import (
        PTR_SOURCE,
        DnsChange,
        DnsRequestSpec,
        ProvisioningInput,
        RequestStatus,
        WorkflowState,
    )
    from dnsorch.dns import ptr_requests, rollback_for, same_rrset
    from dnsorch.temporal import request_attributes
    from workflows.apply import Settle, apply_change, serve_actions_until
    from workflows.bookkeeping import flush, log, transition
    from workflows.outcome import Outcome
    from workflows.patches import patched
    from workflows.policy import (
        failure_reason,
    )
    from workflows.primary import ask_primary
    from workflows.run_state import RequestRun
    from workflows.turn import take_turn
    from workflows.verify import verify_everywhere


S = RequestStatus
# A rollback asks the primary at its turn first: when another request changed the name since this one
# let it go, it restores nothing (restoring the snapshot would undo that change) and says why.
ROLLBACK_ASKS_DNS = "rollback-asks-dns"
# One child request per PTR change (source `ptr`), once the forward change is served everywhere.
AUTOMATIC_PTR = "automatic-ptr"
# The PTR requests start side by side and outlive their forward request (ParentClosePolicy.ABANDON):
# one that waits for an operator tells it so (PTR_WAITS_SIGNAL), and the forward request ends
# COMPLETED with its record, letting its name go, instead of waiting days for that operator.
PTR_WAITS_ALONE = "ptr-waits-alone"
PTR_WAITS_SIGNAL = "ptr_waits_for_operator"


def ptr_waits(run: RequestRun, request_id: str) -> None:
    """The PTR_WAITS_SIGNAL signal, from a PTR request this one started: it waits for an operator,
    as a request of its own."""
    run.ptrs_waiting.add(request_id)


async def roll_back(run: RequestRun, settle: Settle) -> str | None:
    """Make DNS serve the snapshot again, everywhere; what went wrong if it could not."""
    assert run.snapshot is not None
    change = rollback_for(run.change(), run.snapshot)
    if run.turn_first:
        await take_turn(run, change, settle)
    if patched(ROLLBACK_ASKS_DNS) and (changed := await _changed_since(run, change)):
        return changed
    restores = list(run.ptr_restores.values()) if run.ptrs_in_apply else []
    result = await apply_change(run, change, settle, undo=True, ptrs=restores or None)
    if result is None:
        return f"rollback failed: {run.state.last_error}"
    problem = await verify_everywhere(run, change, result.served_at)
    if problem is None and restores:
        problem = await _ptrs_restored(run, restores)
    return f"rollback {problem}" if problem else None


async def _ptrs_restored(run: RequestRun, restores: list[DnsChange]) -> str | None:
    """A rollback's PTR restores (workflows/ptrs.py), each served everywhere in its reverse zone."""
    run.ptr_kept.clear()  # DNS serves what it did before: the rows of then still say so
    outcomes = {outcome.domain: outcome for outcome in run.ptr_outcomes}
    for restore in restores:
        outcome = outcomes.get(restore.domain)
        if outcome is None or outcome.status != "applied":
            return f"of PTR {restore.domain} not applied: {outcome.message if outcome else 'no outcome'}"
        problem = await verify_everywhere(run, restore, outcome.served_at)
        if problem is not None:
            return f"of PTR {restore.domain}: {problem}"
    return None


async def _changed_since(run: RequestRun, restore: DnsChange) -> str:
    """Why the rollback must not restore: the primary serves neither this request's change nor the
    snapshot (another request changed the name since this one let it go), or cannot be asked."""
    assert run.snapshot is not None
    change = run.change()
    served = await ask_primary(change)
    if served.action == "unknown":
        return f"rollback not applied: the primary could not be asked ({served.note})"
    now = served.old_values
    ours = [] if change.operation == "delete" else change.values
    if any(same_rrset(values, now, change.record_type, change.zone) for values in (ours, restore.values)):
        return ""  # it serves this change (undo it), or the snapshot already (restore again)
    return (
        f"rollback refused: the primary serves {', '.join(now) or 'nothing'} now, neither this change "
        f"nor what the plan saw ({', '.join(restore.values) or 'nothing'}): another request changed "
        f"{change.domain} since, and restoring would undo it"
    )


async def keep_ptrs(run: RequestRun, settle: Settle) -> str | None:
    """Run the PTR requests the change needs; what went wrong, if anything. Once patched they
    start side by side, and one that waits for an operator goes on alone."""
    assert run.params is not None
    if run.ptrs_in_apply or not run.params.reverse_zones or not patched(AUTOMATIC_PTR):
        return None
    latest = list((run.state.plan or {}).get("old_values") or [])
    old = run.story.old_values(run.snapshot, latest)
    run.ptr_attempt += 1
    specs = ptr_requests(run.request, old, run.params.reverse_zones, run.ptr_attempt)
    if specs:
        await flush(run)  # the PTR requests may take hours: the verify line is written before
    run.story.ptrs = {_ptr_label(spec): "not started" for spec in specs}
    if not patched(PTR_WAITS_ALONE):  # one after the other, each cancelled with this one
        for spec in specs:
            child = await _start_ptr(run, spec, ParentClosePolicy.REQUEST_CANCEL)
            if (problem := await _follow_ptr(run, spec, child, settle, alone=False)) is not None:
                return problem
        return None
    run.story.ptrs_alone = True
    children = [(spec, await _start_ptr(run, spec, ParentClosePolicy.ABANDON)) for spec in specs]
    for spec, child in children:
        if (problem := await _follow_ptr(run, spec, child, settle, alone=True)) is not None:
            return problem
    return None


async def _start_ptr(
    run: RequestRun, spec: DnsRequestSpec, close: ParentClosePolicy
) -> ChildWorkflowHandle[object, WorkflowState]:
    assert run.params is not None
    run.story.ptrs[_ptr_label(spec)] = "running"
    return await workflow.start_child_workflow(
        workflow.info().workflow_type,  # a PTR request is a request like this one
        ProvisioningInput(request=spec, policy=run.params.policy),
        id=spec.workflow_id,
        search_attributes=request_attributes(spec),
        parent_close_policy=close,
        result_type=WorkflowState,
    )


async def _follow_ptr(
    run: RequestRun,
    spec: DnsRequestSpec,
    child: ChildWorkflowHandle[object, WorkflowState],
    settle: Settle,
    *,
    alone: bool,
) -> str | None:
    """Wait for the PTR request to end (or, `alone`, to wait for an operator); what went wrong."""
    what = _ptr_label(spec)
    workflow.set_current_details(f"keeping the PTR: {spec.operation} PTR {spec.domain}")
    waits = lambda: alone and spec.request_id in run.ptrs_waiting  # noqa: E731
    await serve_actions_until(run, lambda: child.done() or waits(), None, settle)
    if not child.done():
        run.story.ptrs[what] = "waits for an operator in its own request"
        await log(run, f"{what}: NEEDS_ATTENTION; it goes on as a request of its own", step="ptr")
        return None
    try:
        state: WorkflowState = await child
    except ChildWorkflowError as error:
        run.story.ptrs[what] = f"failed: {failure_reason(error)}"
        return f"{what} {run.story.ptrs[what]}"
    await log(run, f"{what}: {state.status}", step="ptr")
    run.story.ptrs[what] = f"ended {state.status}"
    if state.status != S.COMPLETED:
        run.story.ptrs[what] += f": {state.last_error or state.log[-1]['message']}"
        return f"{what} {run.story.ptrs[what]}"
    return None


async def tell_forward_request(run: RequestRun) -> None:
    """A PTR request waiting for an operator tells the forward request that started it, once, so
    that one ends without it (PTR_WAITS_ALONE). A forward request that has ended needs no word."""
    parent = workflow.info().parent
    if run.told_parent or parent is None or run.request.source != PTR_SOURCE:
        return
    if not patched(PTR_WAITS_ALONE):
        return
    run.told_parent = True
    forward = workflow.get_external_workflow_handle(parent.workflow_id, run_id=parent.run_id)
    try:
        await forward.signal(PTR_WAITS_SIGNAL, run.request.request_id)
    except FailureError:
        pass


async def undo(run: RequestRun, actor: str, why: str, settle: Settle) -> None:
    """Roll the change back; ends ROLLED_BACK, or returns (with `last_error` set) when it failed."""
    assert run.snapshot is not None
    before = ", ".join(run.snapshot.old_values) or "nothing"
    message = f"rolling back{why}, to what DNS served before: {before}"
    if run.state.status == S.IN_PROGRESS:
        await log(run, message, step="rollback", actor=actor)
    else:
        await transition(run, S.IN_PROGRESS, message, step="rollback", actor=actor)
    problem = await roll_back(run, settle)
    if problem is not None:
        run.state.last_error = problem
        run.story.rollback_lag = problem if run.story.restored else ""
        return
    raise Outcome(S.ROLLED_BACK, f"rolled back{why}; DNS serves what it served before: {before}", actor=actor)


def _ptr_label(spec: DnsRequestSpec) -> str:
    return f"PTR {spec.domain} ({spec.operation}, request {spec.request_id})"
