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

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.planning import PlanningActivities
    from dnsorch.contracts import (
        Action,
        ChangePlan,
        DnsChange,
        OperatorAction,
        RequestStatus,
        WorkflowState,
    )
    from workflows.bookkeeping import RequestBookkeeping
    from workflows.outcome import Outcome, note
    from workflows.policy import PLAN_RETRY, PLAN_TIMEOUT, failure_reason
    from workflows.story import Story

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


class CancelAsksDns(RequestBookkeeping):
    """The check a cancel makes before it ends a request whose change may have reached DNS."""

    _state: WorkflowState
    _snapshot: ChangePlan | None
    _story: Story
    _everywhere: bool
    _done_tickets: set[int]
    _change: Callable[[], DnsChange]
    _roll_back: Callable[[], Awaitable[str | None]]
    _provision: Callable[..., Awaitable[None]]

    async def _settled_in_temporal(self) -> Outcome | None:
        """A cancel in Temporal (cannot be refused): the ending DNS's answer decides, None for
        CANCELLED; when the primary cannot be asked, the request waits for an operator instead."""
        try:
            await self._settle_cancel(
                IN_TEMPORAL, 0, asked="cancel in Temporal", ended="cancelled in Temporal"
            )
        except Outcome as outcome:
            return outcome
        except Unsettled:
            try:
                await self._provision(held=True)
            except Outcome as outcome:
                return outcome
        return None

    async def _settle_cancel(
        self, action: OperatorAction, ticket: int, *, asked: str = "", ended: str = ""
    ) -> None:
        """Returns when the cancel (or fail) may end the request as it asks (nothing was sent, or the
        primary serves the snapshot); raises Outcome when DNS's answer decides another ending, or
        Unsettled."""
        if not self._may_have_reached_dns(action) or not workflow.patched(CANCEL_ASKS_DNS):
            return
        if action.action == A.FAIL and not workflow.patched(FAIL_ASKS_DNS):
            return
        verb = "cancelled" if action.action == A.CANCEL else "failed"
        asked = asked or f"{action.action} by {action.actor}{note(action)}"
        ended = ended or f"{verb} by {action.actor}{note(action)}"
        change = self._change()
        try:
            served = await workflow.execute_local_activity_method(
                PlanningActivities.plan_change,
                change,
                start_to_close_timeout=PLAN_TIMEOUT,
                retry_policy=PLAN_RETRY,
            )
        except ActivityError as error:  # it never fails, but a hung server can outlast its timeout
            served = ChangePlan("unknown", note=failure_reason(error))
        if served.action == "unknown":
            why = f"the primary could not be asked ({served.note})"
            await self._unsettled(
                ticket, f"{asked}: whether the change reached DNS is unknown: {why}", action
            )
        if not _serves(served, change):
            return  # untouched (or changed by no one of ours): CANCELLED, as before
        values = ", ".join(change.values) or "nothing (deleted)"
        if self._snapshot is None:
            raise Outcome(
                S.COMPLETED,
                f"{asked} came too late: the primary already serves the change ({values}); it stays",
                action.actor,
                ticket,
                store_record=True,
            )
        before = ", ".join(self._snapshot.old_values) or "nothing"
        message = f"{asked}: the primary serves the change ({values}); restoring what the plan saw: {before}"
        if self._state.status == S.IN_PROGRESS:
            await self._log(message, step="rollback", actor=action.actor)
        else:  # while it restores, only cancel, fail and resolve are legal, as in any apply
            await self._transition(S.IN_PROGRESS, message, step="rollback", actor=action.actor)
        problem = await self._roll_back()
        if problem is None:
            raise Outcome(
                S.CANCELLED if action.action == A.CANCEL else S.FAILED,
                f"{ended}: the change had reached DNS; restored what the plan saw: {before}",
                action.actor,
                ticket,
            )
        self._story.rollback_lag = problem if self._story.restored else ""
        await self._unsettled(ticket, f"{asked}: the change had reached DNS, and {problem}", action)

    def _may_have_reached_dns(self, action: OperatorAction) -> bool:
        """An apply of this request started, it changes something, and no other rule already decides
        what a cancel means: a rollback that stands (ROLLBACK_STANDS) or a change served everywhere
        (SERVED_IS_TOO_LATE)."""
        return (
            action.action in (A.CANCEL, A.FAIL)
            and self._everywhere
            and self._state.attempts > 0
            and not self._story.restored
            and not self._story.everywhere
            and not (self._snapshot is not None and self._snapshot.action in ("unchanged", "none"))
        )

    async def _unsettled(self, ticket: int, problem: str, action: OperatorAction) -> None:
        self._state.last_error = problem
        if self._state.status == S.NEEDS_ATTENTION:
            await self._log(f"still needs an operator: {problem}", step="attention", actor=action.actor)
        else:
            await self._transition(
                S.NEEDS_ATTENTION, f"needs an operator: {problem}", step="attention", actor=action.actor
            )
        self._done_tickets.add(ticket)
        raise Unsettled(problem)


def _serves(plan: ChangePlan, change: DnsChange) -> bool:
    """The plan of the request's own change says the primary already serves it."""
    return plan.action == "unchanged" or (change.operation == "delete" and plan.action == "none")
