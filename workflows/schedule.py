"""Scheduled changes, for DnsProvisioningWorkflow (issue 26): a request with `not_before` waits in
SCHEDULED on a durable timer, then goes on as any request: approval if its policy holds it, the
name's turn (where an owner who lost the name meanwhile is refused), a plan against what DNS serves
then, the apply. Until its time an operator may cancel it or move it (`reschedule`, an Update).
Deterministic code only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import Action, OperatorAction, RequestStatus, Reschedule, WorkflowState
    from dnsorch.requests.transitions import IllegalTransition
    from workflows.bookkeeping import RequestBookkeeping
    from workflows.outcome import note_text

S = RequestStatus

# A request with `not_before` in the future begins SCHEDULED and waits for its time.
SCHEDULED_CHANGES = "scheduled-changes"


class ScheduledStart(RequestBookkeeping):
    """The wait before a scheduled request begins, and the Update that moves its time."""

    _state: WorkflowState
    _queue: list[tuple[int, OperatorAction]]
    _done_tickets: set[int]
    _not_before: datetime | None
    _moved: list[Reschedule]
    _check: Callable[[str], Action]
    _end_by: Callable[[OperatorAction, int], None]

    def _scheduled_for(self, not_before: datetime | None) -> datetime | None:
        """The time to wait for, when the request is scheduled and the time is still ahead."""
        if not_before is None or not_before <= workflow.now() or not workflow.patched(SCHEDULED_CHANGES):
            return None
        return not_before

    async def _wait_for_schedule(self) -> None:
        """1. Sleep until `not_before` on a durable timer. 2. An operator's cancel ends the request
        meanwhile (raises Outcome). 3. A reschedule moves the time and is logged; then back to 1."""
        while self._not_before is not None and (left := self._not_before - workflow.now()) > timedelta(0):
            try:
                await workflow.wait_condition(lambda: bool(self._queue or self._moved), timeout=left)
            except TimeoutError:
                return
            if self._moved:
                moved = self._moved.pop(0)
                self._not_before = moved.not_before
                await self._log(
                    f"rescheduled by {moved.actor}{note_text(moved.note)} for {moved.not_before.isoformat()}",
                    step="schedule",
                    actor=moved.actor,
                    not_before=moved.not_before,
                )
                continue
            ticket, action = self._queue.pop(0)
            try:
                self._check(action.action)
            except IllegalTransition as refused:
                self._done_tickets.add(ticket)
                await self._log(f"action ignored: {refused}", actor=action.actor)
                continue
            self._end_by(action, ticket)

    @workflow.update
    async def reschedule(self, moved: Reschedule) -> str:
        """Move a scheduled request's time; answers its status (still SCHEDULED)."""
        self._moved.append(moved)
        await workflow.wait_condition(lambda: moved not in self._moved)
        return self._state.status

    @reschedule.validator
    def _reschedule_allowed(self, moved: Reschedule) -> None:
        if self._state.status != S.SCHEDULED:
            raise IllegalTransition(
                f"only a SCHEDULED request can be rescheduled; this one is {self._state.status}"
            )
        if moved.not_before <= workflow.now():
            raise IllegalTransition(f"{moved.not_before.isoformat()} is not in the future")
