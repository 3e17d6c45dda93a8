"""Operators steering DnsProvisioningWorkflow: the signals, updates and query the Temporal UI, the CLI
and API v2 use, and the queue that hands their actions to the request's flow, one at a time.

An action illegal in the request's state is refused by an update's validator (so it never enters the
history) and logged and dropped when it comes as a signal.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import (
        Action,
        ChangePlan,
        OperatorAction,
        ProvisioningInput,
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
    from workflows.bookkeeping import RequestBookkeeping
    from workflows.outcome import Outcome, note, note_text
    from workflows.story import Story, TooLate

S, A = RequestStatus, Action

# A v1 manual status that is no action in the request's state is a note (patched in; docs/workflow.md).
MANUAL_STATUS_IS_A_NOTE = "manual-status-is-a-note"


class OperatorHandlers(RequestBookkeeping):
    """The handlers, and the queue of accepted actions (ticket, action) the flow takes them from."""

    _params: ProvisioningInput | None
    _state: WorkflowState
    _queue: list[tuple[int, OperatorAction]]
    _next_ticket: int
    _done_tickets: set[int]
    _row_ready: bool
    _lock_granted: bool
    _snapshot: ChangePlan | None  # what a rollback restores (LiveDns)
    _story: Story  # what DNS serves because of the request (workflows/story.py)

    @workflow.signal
    async def action(self, action: OperatorAction) -> None:
        """Signal from the Temporal UI/CLI; an action illegal in the current state is logged and dropped."""
        await workflow.wait_condition(lambda: self._row_ready)
        try:
            self._check(action.action)
        except IllegalTransition as refused:
            await self._log(f"action ignored: {refused}", actor=action.actor)
            return
        self._enqueue(action)

    @workflow.update
    async def act(self, action: OperatorAction) -> str:
        """API v2's actions: refused synchronously when illegal; answers the resulting status."""
        ticket = self._enqueue(action)
        await workflow.wait_condition(lambda: ticket in self._done_tickets)
        return self._state.status

    @act.validator
    def _validate_act(self, action: OperatorAction) -> None:
        self._check(action.action)

    @workflow.update
    async def set_status(self, change: StatusChange) -> str:
        """API v2's manual status: a status change is the action it means (FAILED → fail, …)."""
        action = self._check(action_for_status(self._state.status, change.status))
        ticket = self._enqueue(OperatorAction(action.value, change.actor, change.message))
        await workflow.wait_condition(lambda: ticket in self._done_tickets)
        return self._state.status

    @set_status.validator
    def _validate_set_status(self, change: StatusChange) -> None:
        self._check(action_for_status(self._state.status, change.status))

    @workflow.signal
    async def update_status(self, change: StatusChange) -> None:
        """API v1's manual status (signal): an action where one fits, else a recorded status change."""
        await workflow.wait_condition(lambda: self._row_ready)
        if self._state.status in (s.value for s in S if s.is_terminal):
            await self._log(
                f"manual status {change.status} ignored: request already {self._state.status}",
                actor=change.actor,
            )
            return
        try:
            action = self._check(action_for_status(self._state.status, change.status))
        except IllegalTransition as refused:
            if workflow.patched(MANUAL_STATUS_IS_A_NOTE):
                # Only the workflow's own code moves its status: a status that is no action here is
                # a note, or an operator could put the request in a state its code is not in.
                why = str(refused) if isinstance(refused, TooLate) else f"no action in {self._state.status}"
                await self._log(
                    f"manual status {change.status} noted ({why}){note_text(change.message)}",
                    actor=change.actor,
                )
                return
            if change.status not in S.__members__ or S(change.status).is_terminal:
                await self._log(
                    f"manual status {change.status} ignored in {self._state.status}", actor=change.actor
                )
                return
            await self._transition(
                S(change.status),
                f"status set by {change.actor}{note_text(change.message)}",
                step="manual",
                actor=change.actor,
            )
            return
        self._enqueue(OperatorAction(action.value, change.actor, change.message))

    @workflow.query
    def state(self) -> WorkflowState:
        allowed = allowed_actions(self._state.status)
        self._state.allowed_actions = [a for a in allowed if self._refusal(A(a)) is None]
        return self._state

    def _check(self, action: str) -> Action:
        """The transition table, plus this request's own rules (`_refusal`)."""
        chosen = check_action(self._state.status, action)
        if (refused := self._refusal(chosen)) is not None:
            raise refused
        return chosen

    def _refusal(self, action: Action) -> IllegalTransition | None:
        """A rollback needs the plan's snapshot; cancel and fail come too late once DNS serves the
        change everywhere (workflows/story.py)."""
        if action == A.ROLLBACK and self._snapshot is None:
            return IllegalTransition("cannot roll back: there is no snapshot of what DNS served before")
        return self._story.refusal(action, self._state.status)

    def _enqueue(self, action: OperatorAction) -> int:
        self._next_ticket += 1
        self._queue.append((self._next_ticket, action))
        return self._next_ticket

    async def _next_action(
        self, deadline: timedelta | None = None, too_late: Outcome | None = None
    ) -> tuple[int, OperatorAction]:
        """The next operator action legal now; illegal ones (the state moved on) are logged and dropped.

        At the deadline the request ends with `too_late` (FAILED, unless told otherwise).
        """
        while True:
            try:
                await workflow.wait_condition(lambda: bool(self._queue), timeout=deadline)
            except TimeoutError:
                asked = "failing at the deadline (no operator action in time)"
                deadline_fail = Outcome(S.FAILED, "no operator action before the deadline", asked=asked)
                raise too_late or deadline_fail from None
            ticket, action = self._queue.pop(0)
            try:
                self._check(action.action)
                return ticket, action
            except IllegalTransition as refused:
                self._done_tickets.add(ticket)
                await self._log(f"action ignored: {refused}", actor=action.actor)

    def _attention_deadline(self) -> timedelta:
        assert self._params is not None
        return timedelta(seconds=self._params.policy.attention_timeout_seconds)

    @workflow.signal
    def name_lock_granted(self, lock_id: str) -> None:
        self._lock_granted = True

    def _end_by(self, action: OperatorAction, ticket: int) -> None:
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
