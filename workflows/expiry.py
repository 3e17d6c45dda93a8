"""RecordExpiryWorkflow: one per expiring record (issue 26), started when the create or update that
set `expires_at` completes (activities/database.py `finish_request`), with id `dns-expiry-<request id>`.

1. Sleep on a durable timer until `warning_seconds` before the expiry (at once if less is left),
   then write the EXPIRING event; once per expiry time.
2. Sleep until the expiry, then hand a delete request (source `expiry`, no approval) to the normal
   accept path; while another request is changing the record set, ask again after `recheck_seconds`,
   doubling up to an hour.
3. An extension (the Update `extend`) moves the expiry, and with it the warning; it is written to the
   request's row and timeline. Once the delete is being started it is refused.
A record replaced or deleted by a later request voids the expiry: it deletes nothing and ends.
Deterministic code only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.expiry import ExpiryActivities
    from dnsorch.contracts import ExpiryInput, ExpiryNotice, ExpiryOutcome, ExpiryState, ExtendExpiry
    from workflows.policy import DB_RETRY

EXPIRY_TIMEOUT = timedelta(seconds=60)
"""The expiry's own write, or accepting its delete (which reads PostgreSQL and starts a workflow)."""
MAX_RECHECK = timedelta(hours=1)
"""The longest wait between two looks at a record set another request is changing: one may wait days
for approval or an operator, and each look costs the history a timer and an activity."""
WAITING, EXPIRING, DONE = "waiting", "expiring", "done"
BUSY = "busy"


@workflow.defn
class RecordExpiryWorkflow:
    def __init__(self) -> None:
        self._request_id = ""
        self._expires_at: datetime | None = None
        self._warned_for: datetime | None = None
        self._moves: list[ExtendExpiry] = []
        self._phase = WAITING
        self._outcome = ""
        self._delete_request_id = ""

    @workflow.run
    async def run(self, params: ExpiryInput) -> ExpiryState:
        self._request_id, self._expires_at = params.request_id, params.expires_at
        warning = timedelta(seconds=params.warning_seconds)
        recheck = timedelta(seconds=params.recheck_seconds)
        while self._phase != DONE:
            assert self._expires_at is not None
            if self._warned_for != self._expires_at:
                if await self._moved_before(self._expires_at - warning):
                    continue
                if self._void(await self._run(ExpiryActivities.warn, self._notice())):
                    break
                self._warned_for = self._expires_at
            if await self._moved_before(self._expires_at):
                continue
            self._phase = EXPIRING
            outcome = await self._run(ExpiryActivities.expire, self._notice())
            if outcome.kind == BUSY:
                self._phase = WAITING
                await self._moved_before(workflow.now() + recheck)
                recheck = min(recheck * 2, max(MAX_RECHECK, recheck))
                continue
            self._void(outcome)
            self._delete_request_id = outcome.delete_request_id
            self._phase = DONE
        self._phase = DONE
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.expiry()

    async def _moved_before(self, when: datetime) -> bool:
        """Sleep until `when` on a durable timer; True (the move written) when an extension came first."""
        left = when - workflow.now()
        if not self._moves and left > timedelta(0):
            try:
                await workflow.wait_condition(lambda: bool(self._moves), timeout=left)
            except TimeoutError:
                return False
        if not self._moves:
            return False
        moved = self._moves[0]
        previous, self._expires_at = self._expires_at, moved.expires_at
        notice = self._notice(actor=moved.actor, note=moved.note, previous=previous)
        await self._run(ExpiryActivities.move, notice)
        self._moves.pop(0)
        return True

    def _void(self, outcome: ExpiryOutcome) -> bool:
        """The record was replaced or deleted since, or the delete was refused: nothing more to do."""
        self._outcome = outcome.detail
        if outcome.kind:
            self._phase = DONE
            workflow.logger.info("expiry of %s ends: %s", self._request_id, outcome.detail)
        return bool(outcome.kind)

    def _notice(
        self, *, actor: str = "expiry", note: str = "", previous: datetime | None = None
    ) -> ExpiryNotice:
        assert self._expires_at is not None
        return ExpiryNotice(
            request_id=self._request_id,
            entry_id=str(workflow.uuid4()),
            at=workflow.now(),
            expires_at=self._expires_at,
            actor=actor,
            note=note,
            previous=previous,
        )

    async def _run(self, activity_method, notice: ExpiryNotice):  # type: ignore[no-untyped-def]
        return await workflow.execute_activity_method(
            activity_method, notice, start_to_close_timeout=EXPIRY_TIMEOUT, retry_policy=DB_RETRY
        )

    @workflow.update
    async def extend(self, moved: ExtendExpiry) -> str:
        """Move the expiry (and its warning); answers the new time once it is written."""
        self._moves.append(moved)
        queued = lambda: any(waiting is moved for waiting in self._moves)  # noqa: E731
        await workflow.wait_condition(lambda: not queued() or self._phase == DONE)
        if queued():
            raise ApplicationError(f"the expiry has ended: {self._outcome or 'the record expired'}")
        return moved.expires_at.isoformat()

    @extend.validator
    def _extend_allowed(self, moved: ExtendExpiry) -> None:
        if self._phase != WAITING:
            reason = self._outcome or "its delete request is being started"
            raise ApplicationError(f"too late to move the expiry: {reason}")
        if moved.expires_at <= workflow.now():
            raise ApplicationError(f"{moved.expires_at.isoformat()} is not in the future")

    @workflow.query
    def expiry(self) -> ExpiryState:
        return ExpiryState(
            request_id=self._request_id,
            expires_at=self._expires_at,
            phase=self._phase,
            warned_for=self._warned_for,
            outcome=self._outcome,
            delete_request_id=self._delete_request_id,
        )
