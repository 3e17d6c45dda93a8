"""The wait for approval, for DnsProvisioningWorkflow: a held request waits in PENDING_APPROVAL until
enough distinct API keys approve it (workflows/approvals.py counts them), an operator rejects or
cancels it, or its deadline passes (REJECTED). Who approved, and how many are needed, are in the
`state` query's answer. Deterministic code only."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import Action, OperatorAction, RequestStatus
    from workflows.approvals import Approvals
    from workflows.bookkeeping import log, transition
    from workflows.messages import AWAITING_APPROVAL, duration
    from workflows.operators import end_by, next_action
    from workflows.outcome import Outcome, note
    from workflows.patches import APPROVAL_DEADLINE, DISTINCT_APPROVERS, patched
    from workflows.run_state import RequestRun

S, A = RequestStatus, Action


async def approval(run: RequestRun) -> None:
    """A request whose policy holds it waits for its approvals before anything else."""
    assert run.params is not None
    if run.params.approval_required:
        await await_approval(run)
        run.approved = True


async def await_approval(run: RequestRun) -> None:
    """1. PENDING_APPROVAL (written here before lean). 2. The deadline, if the policy sets one.
    3. Take approvals until enough distinct keys approved; anything else ends the request."""
    assert run.params is not None
    if not run.lean:
        await transition(run, S.PENDING_APPROVAL, AWAITING_APPROVAL, step="approval")
    deadline, too_late = None, None
    if run.params.approval_timeout_seconds and patched(APPROVAL_DEADLINE):
        deadline = timedelta(seconds=run.params.approval_timeout_seconds)
        too_late = Outcome(S.REJECTED, f"no approval in time ({duration(deadline)})")
    if not patched(DISTINCT_APPROVERS):
        run.state.approvals = {"required": 1, "approvers": []}
        ticket, action = await next_action(run, deadline, too_late)
        if action.action != A.APPROVE:
            end_by(action, ticket)
        _count(run, action)
        await log(run, f"approved by {action.actor}{note(action)}", actor=action.actor)
        run.done_tickets.add(ticket)
        return
    # Approvals until enough distinct keys have approved, all before the one deadline.
    approvals = Approvals.of(run.params)
    run.state.approvals = {"required": approvals.required, "approvers": []}
    ends = None if deadline is None else workflow.now() + deadline
    while not approvals.enough:
        left = None if ends is None else ends - workflow.now()
        if left is not None and left <= timedelta(0):
            assert too_late is not None
            raise too_late
        ticket, action = await next_action(run, left, too_late)
        if action.action != A.APPROVE:
            end_by(action, ticket)
        counted = approvals.count
        line, key = approvals.take(action)
        if approvals.count > counted:
            _count(run, action)
        await log(run, line, step="approval", actor=action.actor, approver=key)
        run.done_tickets.add(ticket)
        if not approvals.enough:
            workflow.set_current_details(f"approvals: {approvals.count} of {approvals.required}")


def _count(run: RequestRun, action: OperatorAction) -> None:
    """Show an approval that counts in the `state` query."""
    assert run.state.approvals is not None
    run.state.approvals["approvers"].append({"actor": action.actor, "key_id": action.key_id})
