"""A cancel (or a fail) after the change was sent, for DnsProvisioningWorkflow: the final status waits
until the primary has said what it serves (issue 22, item 5). A fail takes the same steps and ends
FAILED where a cancel ends CANCELLED (FAIL_ASKS_DNS). A playbook killed by the cancel may still have
delivered its UPDATE (a paused server applies it when it wakes), and Ansible's silence says nothing:
only the server's answer does. Deterministic code only: the primary is asked in a local activity.

What the cancel then does, once the apply is stopped (WAIT_CANCELLATION_COMPLETED):
- the primary serves the plan's snapshot, not the change: CANCELLED, as before;
- it serves the change: the snapshot is restored (a rollback's `restore`, under the name's turn the
  request holds), and the request ends CANCELLED saying so: DNS serves what dnsorch records for the
  name, and nothing of the cancelled request. Restoring, not completing, because until the change is
  served everywhere a cancel is still legal (SERVED_IS_TOO_LATE covers the time after); without a
  snapshot there is nothing to restore, and the request ends COMPLETED ("came too late"), recorded;
- it does not answer: NEEDS_ATTENTION with that reason, claiming nothing; a later cancel asks again.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import Action, ChangePlan, OperatorAction, RequestStatus
    from workflows import ttl_dance
    from workflows.apply import Settle
    from workflows.bookkeeping import log, transition
    from workflows.live_dns import roll_back
    from workflows.outcome import Outcome, note
    from workflows.patches import patched
    from workflows.policy import failure_reason
    from workflows.primary import ask_primary
    from workflows.resolve_check import check_resolve, serves
    from workflows.run_state import RequestRun

S, A = RequestStatus, Action

# A cancel (an operator's, v1 manual status CANCELLED, or one in Temporal) that arrives once an apply
# has started asks the primary what it serves before the request ends: served → the snapshot is
# restored (CANCELLED, saying so); untouched → CANCELLED; no answer → NEEDS_ATTENTION.
CANCEL_ASKS_DNS = "cancel-asks-dns"
# An operator's fail asks the same way, and ends FAILED where a cancel ends CANCELLED: a final status
# never stands beside a change DNS serves.
FAIL_ASKS_DNS = "fail-asks-dns"


IN_TEMPORAL = OperatorAction(Action.CANCEL.value, "workflow", "")


class Unsettled(Exception):
    """A cancel could not learn what the primary serves: the request waits in NEEDS_ATTENTION."""


def settler(run: RequestRun) -> Settle:
    """`settle_cancel` for this run, as the apply and the turn take it."""

    async def settle(action: OperatorAction, ticket: int) -> None:
        await settle_cancel(run, action, ticket)

    return settle


async def settle_cancel(
    run: RequestRun, action: OperatorAction, ticket: int, *, asked: str = "", ended: str = ""
) -> None:
    """Returns when the cancel (or fail) may end the request as it asks (nothing was sent, or the
    primary serves the snapshot); raises Outcome when DNS's answer decides another ending, or
    Unsettled. A TTL dance that lowered the TTL restores it first (ttl_dance.py). A resolve returns
    when the primary serves the change, and is refused (Unsettled) when not (resolve_check.py)."""
    await check_resolve(run, action, ticket, _unsettled)
    await _ask_dns(run, action, ticket, asked=asked, ended=ended)
    await ttl_dance.settle_cancel(run, action, ticket, settler(run), _unsettled, ended=ended)


async def _ask_dns(
    run: RequestRun, action: OperatorAction, ticket: int, *, asked: str = "", ended: str = ""
) -> None:
    if not _may_have_reached_dns(run, action) or not patched(CANCEL_ASKS_DNS):
        return
    if action.action == A.FAIL and not patched(FAIL_ASKS_DNS):
        return
    verb = "cancelled" if action.action == A.CANCEL else "failed"
    asked = asked or f"{action.action} by {action.actor}{note(action)}"
    ended = ended or f"{verb} by {action.actor}{note(action)}"
    change = run.change()
    try:
        served = await ask_primary(change)
    except ActivityError as error:  # it never fails, but a hung server can outlast its timeout
        served = ChangePlan("unknown", note=failure_reason(error))
    if served.action == "unknown":
        why = f"the primary could not be asked ({served.note})"
        await _unsettled(run, ticket, f"{asked}: whether the change reached DNS is unknown: {why}", action)
    if not serves(served, change):
        return  # untouched (or changed by no one of ours): CANCELLED, as before
    values = ", ".join(change.values) or "nothing (deleted)"
    if run.snapshot is None:
        raise Outcome(
            S.COMPLETED,
            f"{asked} came too late: the primary already serves the change ({values}); it stays",
            action.actor,
            ticket,
            store_record=True,
        )
    before = ", ".join(run.snapshot.old_values) or "nothing"
    message = f"{asked}: the primary serves the change ({values}); restoring what the plan saw: {before}"
    if run.state.status == S.IN_PROGRESS:
        await log(run, message, step="rollback", actor=action.actor)
    else:  # while it restores, only cancel, fail and resolve are legal, as in any apply
        await transition(run, S.IN_PROGRESS, message, step="rollback", actor=action.actor)
    problem = await roll_back(run, settler(run))
    if problem is None:
        raise Outcome(
            S.CANCELLED if action.action == A.CANCEL else S.FAILED,
            f"{ended}: the change had reached DNS; restored what the plan saw: {before}",
            action.actor,
            ticket,
        )
    run.story.rollback_lag = problem if run.story.restored else ""
    await _unsettled(run, ticket, f"{asked}: the change had reached DNS, and {problem}", action)


def _may_have_reached_dns(run: RequestRun, action: OperatorAction) -> bool:
    """An apply of this request started, it changes something, and no other rule already decides
    what a cancel means: a rollback that stands (ROLLBACK_STANDS) or a change served everywhere
    (SERVED_IS_TOO_LATE)."""
    return (
        action.action in (A.CANCEL, A.FAIL)
        and run.everywhere
        and run.state.attempts > 0
        and not run.story.restored
        and not run.story.everywhere
        and not (run.snapshot is not None and run.snapshot.action in ("unchanged", "none"))
    )


async def _unsettled(run: RequestRun, ticket: int, problem: str, action: OperatorAction) -> None:
    run.state.last_error = problem
    if run.state.status == S.NEEDS_ATTENTION:
        await log(run, f"still needs an operator: {problem}", step="attention", actor=action.actor)
    else:
        await transition(
            run, S.NEEDS_ATTENTION, f"needs an operator: {problem}", step="attention", actor=action.actor
        )
    run.done_tickets.add(ticket)
    raise Unsettled(problem)
