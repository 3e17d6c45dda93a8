"""PTRs in the same apply, for DnsProvisioningWorkflow (patch PTR_IN_APPLY): an A or AAAA change takes
its turn on its PTR names too, plans each PTR change, sends them in its own apply (one playbook run,
one UPDATE per zone), verifies each in its reverse zone, and stores each served PTR as a row of its
own with the request's record. No child request, no second playbook run. Deterministic code only.
"""

from __future__ import annotations

import dataclasses

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import (
        PTR_SOURCE,
        ChangePlan,
        DnsChange,
        KeptPtr,
        LogStep,
        RecordRow,
        RequestStatus,
    )
    from dnsorch.dns import FORWARD_TYPES, change_for, ptr_requests, rollback_for
    from workflows.apply import Settle
    from workflows.bookkeeping import log
    from workflows.patches import patched
    from workflows.primary import ask_primary
    from workflows.run_state import PtrChange, RequestRun
    from workflows.turn import take_turn, take_turns_and_plan
    from workflows.verify import verify_everywhere

S = RequestStatus
# A request's PTR changes ride in its own apply instead of child requests (live_dns.AUTOMATIC_PTR).
PTR_IN_APPLY = "ptr-in-apply"


def keeps_ptrs_in_apply(run: RequestRun) -> bool:
    """Whether this request's PTR changes ride in its own apply; decided once, at its first plan."""
    request, params = run.request, run.params
    assert params is not None
    if run.ptrs_in_apply:
        return True
    if not params.reverse_zones or request.record_type not in FORWARD_TYPES or request.source == PTR_SOURCE:
        return False
    if not (run.everywhere and run.turn_first):
        return False
    run.ptrs_in_apply = patched(PTR_IN_APPLY)
    return run.ptrs_in_apply


async def plan_ptrs(run: RequestRun, settle: Settle) -> list[DnsChange]:
    """The PTR changes the apply carries: the turn on each PTR name (in name order, so two requests
    swapping addresses never wait on each other), then each one's plan. A PTR its plan refuses stays
    out of the apply; the request names it once the forward change is served."""
    assert run.params is not None
    latest = list((run.state.plan or {}).get("old_values") or [])
    old = run.story.old_values(run.snapshot, latest)
    run.ptr_attempt += 1
    specs = ptr_requests(run.request, old, run.params.reverse_zones, run.ptr_attempt)
    run.ptr_changes = [PtrChange(spec, change_for(spec)) for spec in sorted(specs, key=lambda s: s.domain)]
    run.story.ptrs = {label(ptr): "planned" for ptr in run.ptr_changes}
    # The turn is the request's own (its id); the plan reads the same name and type either way.
    turns = [dataclasses.replace(ptr.change, request_id=run.request.request_id) for ptr in run.ptr_changes]
    plans: list[ChangePlan] | None = None
    if run.fewer_steps and turns:  # every turn, then every plan, in one local activity
        plans = await take_turns_and_plan(run, turns, settle)
    else:
        for turn in turns:
            await take_turn(run, turn, settle)
    for index, ptr in enumerate(run.ptr_changes):
        found = plans[index] if plans is not None else await ask_primary(ptr.change)
        usable = found.action != "unknown" and not found.conflict
        if usable and ptr.change.domain not in run.ptr_restores:
            run.ptr_restores[ptr.change.domain] = rollback_for(ptr.change, found)
        text = found.describe(f"PTR {ptr.change.domain}")
        await log(run, f"plan: {text}", step="plan", defer=run.fewer_steps)
        if found.conflict:
            ptr.refused = f"refused: {found.conflict}"
            run.story.ptrs[label(ptr)] = ptr.refused
    return [ptr.change for ptr in run.ptr_changes if not ptr.refused]


async def verify_ptrs(run: RequestRun) -> str | None:
    """Once the forward change is served everywhere: each PTR applied must be served everywhere in
    its reverse zone; what is wrong with any PTR, or None. Each PTR served is kept for the record."""
    outcomes = {outcome.domain: outcome for outcome in run.ptr_outcomes}
    problems = []
    for ptr in run.ptr_changes:
        what = label(ptr)
        outcome = outcomes.get(ptr.change.domain)
        problem: str | None
        if ptr.refused:
            problem = ptr.refused
        elif outcome is None or outcome.status != "applied":
            problem = f"not applied: {outcome.message if outcome else 'no outcome'}"
        else:
            problem = await verify_everywhere(run, ptr.change, outcome.served_at)
        if problem is not None:
            run.story.ptrs[what] = problem
            run.ptr_kept.pop(ptr.change.domain, None)
            problems.append(f"{what} {problem}")
            continue
        run.story.ptrs[what] = "served everywhere"
        run.ptr_kept[ptr.change.domain] = kept(run, ptr)
    if problems:
        await log(run, "; ".join(problems), step="ptr")
        return "; ".join(problems)
    return None


def keep_applied_ptrs(run: RequestRun) -> None:
    """At a COMPLETED ending that stores the record: a PTR the latest apply left served by the
    primary (not verified everywhere: a cancel came too late, or an operator resolved) is served
    too, so its row is stored as well. Not after a rollback's restore."""
    if not run.ptrs_in_apply or run.story.undoing:
        return
    applied = {outcome.domain for outcome in run.ptr_outcomes if outcome.status == "applied"}
    for ptr in run.ptr_changes:
        if ptr.change.domain in applied and ptr.change.domain not in run.ptr_kept:
            run.ptr_kept[ptr.change.domain] = kept(run, ptr)


def ptrs_served(run: RequestRun) -> str:
    """The PTRs served with the change, for the COMPLETED message."""
    return "; ".join(f"{what} {state}" for what, state in run.story.ptrs.items()) if run.ptrs_in_apply else ""


def kept(run: RequestRun, ptr: PtrChange) -> KeptPtr:
    """The PTR's own request row, ended COMPLETED, and its record, as the PTR requests of old left them."""
    spec, now = ptr.spec, workflow.now()
    message = (
        f"{S.PENDING.value} → {S.COMPLETED.value}: kept by request {run.request.request_id} in its apply"
    )
    step = LogStep(
        request_id=spec.request_id,
        entry_id=str(workflow.uuid4()),
        at=now,
        message=message,
        status=S.COMPLETED.value,
        step="finished",
        previous=S.PENDING.value,
    )
    record = RecordRow.of(spec, now)
    return KeptPtr(spec, step, record)


def label(ptr: PtrChange) -> str:
    return f"PTR {ptr.change.domain} ({ptr.spec.operation})"
