"""The plan, for DnsProvisioningWorkflow: before each apply the request reads what the primary serves
and records what its change would do there. A conflict with data dnsorch does not manage rejects it,
a dry run ends there, and a target that does not resolve may hold it for approval. Deterministic
code only: the primary is asked in a local activity."""

from __future__ import annotations

import dataclasses

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import ChangePlan, RequestStatus
    from workflows.approval_wait import await_approval
    from workflows.bookkeeping import log, transition
    from workflows.messages import AWAITING_APPROVAL, STARTED
    from workflows.outcome import Outcome
    from workflows.patches import DANGLING_TARGETS, patched
    from workflows.primary import ask_primary
    from workflows.run_state import RequestRun
    from workflows.ttl_dance_state import TtlDance

S = RequestStatus


async def plan(run: RequestRun, found: ChangePlan | None = None) -> None:
    """Record what the change would do to what the server serves now; stop on a conflict or a dry run.
    `found`: the plan read with the name's turn (fewer-steps-to-apply), else the primary is asked."""
    request = run.request
    if found is None:
        found = await ask_primary(run.change())
    text = found.describe(f"{request.record_type} {request.domain}")
    run.state.plan = dataclasses.asdict(found)
    usable = found.action != "unknown" and not found.conflict
    if run.everywhere and usable and run.story.may_snapshot(run.state.attempts):
        run.snapshot = found  # what a rollback restores
        run.dance = run.dance or TtlDance.planned(request, found, run.params)
    text = TtlDance.plan_line(text, run.dance, request, found, run.params)
    workflow.set_current_details(f"**plan**: {text}")
    # fewer-steps-to-apply: the line rides with the next write, at the latest before the apply starts
    shown = TtlDance.shown(run.dance, run.state.plan)
    await log(run, f"plan: {text}", step="plan", plan=shown, defer=run.fewer_steps)
    if found.conflict:
        raise Outcome(S.REJECTED, f"refused: {found.conflict}")
    if request.dry_run:
        raise Outcome(S.COMPLETED, "dry run: the plan above was not applied; DNS is unchanged")


async def held_for_dangling_targets(run: RequestRun) -> bool:
    """Hold for approval when the plan found targets that do not resolve and policy calls that a
    risk; True once approved (an operator's reject or the deadline ends the request)."""
    assert run.params is not None
    dangling = list((run.state.plan or {}).get("dangling") or [])
    if not dangling or run.approved or not run.params.hold_dangling_targets:
        return False
    if not patched(DANGLING_TARGETS):
        return False
    reasons = "; ".join(f"the target {target} does not resolve" for target in dangling)
    await transition(run, S.PENDING_APPROVAL, f"{AWAITING_APPROVAL}: {reasons}", step="approval")
    await await_approval(run)
    run.approved = True
    await transition(run, S.IN_PROGRESS, f"{STARTED} (approved: {reasons})", step="apply")
    return True


async def held_for_changed_plan(run: RequestRun) -> bool:
    """A scheduled request approved against the plan of its time (schedule.py) whose first plan under
    the name's turn differs (another request changed the name meanwhile) waits for its approvers
    again; True once they approved the new plan (a reject or the deadline ends the request)."""
    seen, now = run.due_plan, ChangePlan(**(run.state.plan or {"action": "unknown"}))
    run.due_plan = None  # asked at the first plan under the turn only: a retry's plan sees its own apply
    if seen is None or not run.approved or _same(seen, now):
        return False
    change = f"{run.request.record_type} {run.request.domain}"
    why = f"the plan changed since it was approved: {seen.describe(change)}, now {now.describe(change)}"
    await transition(run, S.PENDING_APPROVAL, f"{AWAITING_APPROVAL}: {why}", step="approval")
    await await_approval(run)
    await transition(run, S.IN_PROGRESS, f"{STARTED} (approved again: the plan changed)", step="apply")
    return True


def _same(seen: ChangePlan, now: ChangePlan) -> bool:
    """The same change to the same served record set (the order of values aside)."""
    return (seen.action, sorted(seen.old_values), seen.old_ttl, seen.conflict) == (
        now.action,
        sorted(now.old_values),
        now.old_ttl,
        now.conflict,
    )
