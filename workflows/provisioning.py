"""DnsProvisioningWorkflow: one durable workflow per DNS request, steerable by operators.

Life of a request: (PENDING_APPROVAL →) IN_PROGRESS → COMPLETED once every authoritative server
serves the change, or → NEEDS_ATTENTION when the Ansible step has exhausted its retries or a server
does not serve the change in time, where it waits durably for an operator's `retry`, `rollback`,
`resolve`, `fail` or `cancel` (FAILED when nobody acts before the deadline). A rollback restores
what the plan saw before the change: ROLLED_BACK.

Deterministic code only: time comes from `workflow.now()`, ids from `workflow.uuid4()`, and all
I/O happens in activities. The log-line ids the workflow makes keep the database writes
idempotent across retries. Operator actions are queued by handlers and carried out here, in
the main coroutine, so transitions happen one at a time and in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.ansible import AnsibleActivities
    from activities.database import DatabaseActivities
    from activities.name_claims import NameTurnActivities
    from activities.name_lock import NameLockActivities
    from activities.planning import PlanningActivities
    from dnsorch.contracts import (
        DRIFT_SOURCE,
        Action,
        ApplyResult,
        ChangePlan,
        DnsChange,
        DnsRequestSpec,
        LockRequest,
        NameServer,
        OperatorAction,
        ProvisioningInput,
        RequestStatus,
        Reschedule,
        WorkflowState,
    )
    from dnsorch.dns import change_for
    from dnsorch.requests.transitions import IllegalTransition
    from workflows.approvals import Approvals
    from workflows.cancel_check import CancelAsksDns, Unsettled
    from workflows.freeze import FreezeWait
    from workflows.live_dns import LiveDns
    from workflows.name_lock import lock_id_for
    from workflows.operators import OperatorHandlers
    from workflows.outcome import Outcome, note
    from workflows.policy import (
        DB_RETRY,
        DB_TIMEOUT,
        PLAN_RETRY,
        PLAN_TIMEOUT,
        TURN_RETRY,
        TURN_TIMEOUT,
        apply_retry,
        failure_reason,
        refused_for_good,
    )
    from workflows.schedule import ScheduledStart
    from workflows.story import Story

S, A = RequestStatus, Action

# Changes to this workflow's behaviour ship behind `workflow.patched(ID)`: workflows recorded
# before a change replay down the old branch (docs/workflow.md, "Shipping a workflow change").
WAIT_FOR_APPLY_TO_STOP = "wait-for-apply-to-stop"
# Two workflow tasks per request instead of twelve: database writes are local activities, the first
# status is written with the row and the final one with the record, and the apply activity takes
# its turn on the name from PostgreSQL (activities/name_claims.py) instead of a lock workflow.
LEAN_REQUEST = "lean-request"
# A cancel (or fail) that reaches a playbook whose batch had already applied the change is too late:
# the request ends COMPLETED, saying so, with its record stored, because DNS serves the change.
REPORT_LATE_CANCEL = "report-late-cancel"
# Before each apply, a plan reads what the server serves and records the diff; a conflict with data
# dnsorch does not manage rejects the request there, and a dry run ends there.
PLAN_BEFORE_APPLY = "plan-before-apply"
# A change counts once every authoritative server of its zone serves it (the NS RRset, asked once);
# one that must not stay is rolled back to the plan's snapshot (the `rollback` action, ROLLED_BACK).
VERIFY_EVERYWHERE = "verify-everywhere"
# The request takes its turn on the name before its drift check and its plan, so both read what no
# other request is changing, and it waits for the turn in an activity of its own, apart from the
# apply's timeout and retries (a rollback takes it before its restore the same way).
TURN_BEFORE_PLAN = "turn-before-plan"
# A retry refused at the name's turn (the name moved to another account meanwhile) after an earlier
# attempt's change was served everywhere ends COMPLETED with its record: REJECTED would claim DNS
# untouched.
SERVED_STANDS_AT_TURN = "served-stands-at-turn"
# A request held for approval waits until its deadline, then ends REJECTED ("no approval in time").
APPROVAL_DEADLINE = "approval-deadline"
# A held request goes ahead after as many approvals by distinct API keys as it needs; under four
# eyes (or with more than one approver) an approval that names no key, or the submitter's, does not
# count (workflows/approvals.py). Each approval is a timeline line with its key.
DISTINCT_APPROVERS = "distinct-approvers"
# A plan that finds a CNAME, MX or SRV target that does not resolve holds the request for a person's
# approval where APPROVAL_RISKS lists `dangling_target` (unless one approved it already), then plans
# again at its next turn on the name.
DANGLING_TARGETS = "dangling-targets"
# An A or AAAA change in a zone whose reverse zone dnsorch manages keeps its PTR: AUTOMATIC_PTR in
# workflows/live_dns.py.
# One true story per request (a rollback stands, a change served everywhere outlives cancel and fail,
# the snapshot is the first plan's): ROLLBACK_STANDS, SERVED_IS_TOO_LATE, SNAPSHOT_FROM_FIRST_PLAN in
# workflows/story.py. A cancel after an apply started asks the primary first: CANCEL_ASKS_DNS in
# workflows/cancel_check.py.
# Before its first plan a request in a frozen zone waits in FROZEN until the freeze is over, unless an
# operator lets it through or it is an emergency: FREEZE_WINDOWS in workflows/freeze.py.


@workflow.defn
class DnsProvisioningWorkflow(OperatorHandlers, LiveDns, CancelAsksDns, ScheduledStart, FreezeWait):
    def __init__(self) -> None:
        self._request: DnsRequestSpec | None = None
        self._params: ProvisioningInput | None = None
        self._state = WorkflowState(request_id="", status=S.PENDING, step="accepted")
        self._write_lock = asyncio.Lock()
        self._queue: list[tuple[int, OperatorAction]] = []
        self._next_ticket = 0
        self._done_tickets: set[int] = set()
        self._row_ready = False
        self._apply_handle: asyncio.Task[ApplyResult] | None = None
        self._lock_granted = False
        self._wait_for_apply_to_stop = False
        self._lean = False
        self._plan_first = False
        self._everywhere = False
        self._turn_first = False
        self._served_at: datetime | None = None
        self._not_before: datetime | None = None
        self._moved: list[Reschedule] = []
        self._servers: list[NameServer] | None = None
        self._snapshot: ChangePlan | None = None
        self._ptr_attempt = 0
        self._ptrs_waiting: set[str] = set()
        self._approved = False
        self._told_parent = False
        self._story = Story()
        self._freezes_changed = False

    # ---- the request's life -------------------------------------------------------------

    @workflow.run
    async def run(self, params: ProvisioningInput) -> WorkflowState:
        self._params, self._request = params, params.request
        self._state.request_id = params.request.request_id
        self._lean = workflow.patched(LEAN_REQUEST)
        self._plan_first = self._lean and workflow.patched(PLAN_BEFORE_APPLY)
        self._everywhere = self._plan_first and workflow.patched(VERIFY_EVERYWHERE)
        self._turn_first = self._plan_first and workflow.patched(TURN_BEFORE_PLAN)
        self._story = Story.begin(live=self._everywhere)
        self._not_before = self._scheduled_for(params.request.not_before) if self._turn_first else None
        if self._lean:  # the row (if the accepting process died first) and the first status, at once
            if self._not_before is not None:
                await self._transition(S.SCHEDULED, _scheduled(self._not_before), step="schedule", begin=True)
            elif params.approval_required:
                await self._transition(S.PENDING_APPROVAL, _awaiting(params), step="approval", begin=True)
            elif params.attention_reason:  # raised for an operator (drift): nothing is applied unasked
                self._state.last_error = params.attention_reason
                await self._transition(
                    S.NEEDS_ATTENTION, _needs(params.attention_reason), step="attention", begin=True
                )
            else:
                await self._transition(S.IN_PROGRESS, _started(params), step="apply", begin=True)
        else:
            await self._call(DatabaseActivities.ensure_request_row, params.request)
        self._row_ready = True
        try:
            if self._not_before is not None:
                await self._wait_for_schedule()
                if params.approval_required:  # approvers judge the change when it is due
                    await self._transition(S.PENDING_APPROVAL, _awaiting(params), step="approval")
            if params.approval_required:
                await self._await_approval()
                self._approved = True
            await self._wait_out_freeze(held=bool(params.attention_reason) and self._lean)
            await self._provision(held=bool(params.attention_reason) and self._lean)
        except Outcome as outcome:
            await self._end(outcome)
        except asyncio.CancelledError:
            # Cancelled from the Temporal UI/CLI: stop the playbook, record it, end as cancelled.
            if self._apply_handle is not None and not self._apply_handle.done():
                self._apply_handle.cancel()
            if (ending := self._story.cancelled_in_temporal(self._applied_anyway())) is None:
                ending = await self._settled_in_temporal()  # the apply is stopped: what does DNS serve?
            if ending is not None:
                await self._end(ending)
                return await self._finish()
            await self._transition(S.CANCELLED, "workflow cancelled in Temporal", step="finished")
            raise
        return await self._finish()

    async def _end(self, outcome: Outcome) -> None:
        """Write the final status, with the record DNS serves when there is one."""
        outcome = self._story.settle(outcome, self._snapshot, self._change().values)
        record = self._record_row() if outcome.store_record else None
        if record is not None and not self._lean:
            await self._call(DatabaseActivities.store_record, record)
            record = None
        await self._transition(
            outcome.status, outcome.message, step="finished", actor=outcome.actor, record=record
        )
        self._done_tickets.add(outcome.ticket)

    async def _await_approval(self) -> None:
        assert self._params is not None
        if not self._lean:
            await self._transition(S.PENDING_APPROVAL, _AWAITING_APPROVAL, step="approval")
        deadline, too_late = None, None
        if self._params.approval_timeout_seconds and workflow.patched(APPROVAL_DEADLINE):
            deadline = timedelta(seconds=self._params.approval_timeout_seconds)
            too_late = Outcome(S.REJECTED, f"no approval in time ({_duration(deadline)})")
        if not workflow.patched(DISTINCT_APPROVERS):
            ticket, action = await self._next_action(deadline, too_late)
            if action.action != A.APPROVE:
                self._end_by(action, ticket)
            await self._log(f"approved by {action.actor}{note(action)}", actor=action.actor)
            self._done_tickets.add(ticket)
            return
        # Approvals until enough distinct keys have approved, all before the one deadline.
        approvals = Approvals.of(self._params)
        ends = None if deadline is None else workflow.now() + deadline
        while not approvals.enough:
            left = None if ends is None else ends - workflow.now()
            if left is not None and left <= timedelta(0):
                assert too_late is not None
                raise too_late
            ticket, action = await self._next_action(left, too_late)
            if action.action != A.APPROVE:
                self._end_by(action, ticket)
            line, key = approvals.take(action)
            await self._log(line, step="approval", actor=action.actor, approver=key)
            self._done_tickets.add(ticket)
            if not approvals.enough:
                workflow.set_current_details(f"approvals: {approvals.count} of {approvals.required}")

    async def _provision(self, *, held: bool = False) -> None:
        """Attempt the change until it ends; `held`: it already waits in NEEDS_ATTENTION for a first retry."""
        rollback: OperatorAction | None = None  # the operator's choice in NEEDS_ATTENTION: undo
        while True:
            try:
                if held:
                    held = False
                elif rollback is None:
                    await self._attempt()
                else:
                    await self._undo(rollback.actor, f" by {rollback.actor}{note(rollback)}")
                if self._state.status != S.NEEDS_ATTENTION:
                    await self._transition(
                        S.NEEDS_ATTENTION, _needs(self._state.last_error), step="attention"
                    )
                    await self._tell_forward_request()  # a PTR request waits on its own
                ticket, action = await self._next_action(self._attention_deadline())
                if action.action not in (A.RETRY, A.ROLLBACK):
                    await self._settle_cancel(action, ticket)
                    self._end_by(action, ticket)
            except Unsettled:  # a cancel could not learn what DNS serves: it waits in NEEDS_ATTENTION
                held, rollback = True, None
                continue
            verb = "rollback" if action.action == A.ROLLBACK else "retry"
            await self._log(f"{verb} requested by {action.actor}{note(action)}", actor=action.actor)
            self._done_tickets.add(ticket)
            rollback = action if action.action == A.ROLLBACK else None

    async def _attempt(self) -> None:
        """Plan, apply and verify the change; returns (with `last_error` set) when it needs an operator."""
        if self._state.status != S.IN_PROGRESS:  # lean: a request not held for approval begins so
            await self._transition(S.IN_PROGRESS, _STARTED, step="apply")
        if self._turn_first:
            await self._take_turn(self._change())
        if self._request is not None and self._request.source == DRIFT_SOURCE:
            await self._check_not_superseded()
        if self._plan_first:
            await self._plan()
            if await self._held_for_dangling_targets():  # approved: plan again at the next turn
                if self._turn_first:
                    await self._take_turn(self._change())
                await self._plan()
        result = await self._apply_change(self._change())
        if result is None:
            return
        if self._everywhere:
            problem = await self._verify_everywhere(self._change(), result.served_at)
            if problem is not None:
                self._state.last_error = problem
                await self._log(f"verification failed: {problem}", step="verify")
                assert self._params is not None
                if self._params.policy.rollback_on_verify_failure and self._snapshot is not None:
                    await self._undo("workflow", f": {problem}")
                return
            self._story.everywhere = True
            self._served_at = workflow.now()
        problem = await self._keep_ptrs()
        if problem is not None:
            self._state.last_error = problem
            return
        waiting = self._story.ptrs_left_waiting()
        raise Outcome(S.COMPLETED, _serves(result) + (f"; {waiting}" if waiting else ""), store_record=True)

    async def _held_for_dangling_targets(self) -> bool:
        """Hold for approval when the plan found targets that do not resolve and policy calls that a
        risk; True once approved (an operator's reject or the deadline ends the request)."""
        assert self._params is not None
        dangling = list((self._state.plan or {}).get("dangling") or [])
        if not dangling or self._approved or not self._params.hold_dangling_targets:
            return False
        if not workflow.patched(DANGLING_TARGETS):
            return False
        reasons = "; ".join(f"the target {target} does not resolve" for target in dangling)
        await self._transition(S.PENDING_APPROVAL, f"{_AWAITING_APPROVAL}: {reasons}", step="approval")
        await self._await_approval()
        self._approved = True
        await self._transition(S.IN_PROGRESS, f"{_STARTED} (approved: {reasons})", step="apply")
        return True

    async def _check_not_superseded(self) -> None:
        """A drift request restores what dnsorch recorded when it was raised; if the record set has been
        changed through dnsorch since (an operator retrying it later), restoring would undo that."""
        assert self._request is not None
        why = await workflow.execute_local_activity_method(
            DatabaseActivities.superseded,
            self._request,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        if why:
            raise Outcome(S.CANCELLED, why)

    async def _take_turn(self, change: DnsChange) -> None:
        """Hold the name, and the names its ownership ties to it, before reading or changing DNS;
        the request's next status lets it go (dnsorch/store/name_claims.py)."""
        try:
            first = await workflow.execute_local_activity_method(
                NameTurnActivities.take_name_turn,
                change,
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
            )
            if not first:
                return
            await self._log(f"waiting for request {first}, which changes {change.domain} first", step="turn")
            workflow.set_current_details(f"waiting for other changes to {change.domain} to finish")
            assert self._params is not None
            waiting = workflow.start_activity_method(
                NameTurnActivities.wait_for_name_turn,
                change,
                start_to_close_timeout=TURN_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=self._params.policy.heartbeat_seconds),
                retry_policy=TURN_RETRY,
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                summary=f"waiting for the turn on {change.domain}",
            )
            try:
                await self._serve_actions_until(waiting.done, None)
            except (Exception, asyncio.CancelledError):
                waiting.cancel()  # an operator ended the request, or Temporal cancelled it
                await asyncio.gather(waiting, return_exceptions=True)
                raise
            await waiting
        except (ActivityError, ApplicationError) as error:  # a local activity's comes unwrapped
            if not refused_for_good(error):
                raise
            if self._story.everywhere and workflow.patched(SERVED_STANDS_AT_TURN):
                raise Outcome(
                    S.COMPLETED,
                    f"refused at the name's turn ({failure_reason(error)}), but an earlier attempt's "
                    f"change is served by every authoritative server and stays; {self._story.ptr_note()}",
                    store_record=True,
                ) from None
            raise Outcome(S.REJECTED, f"refused: {failure_reason(error)}") from None

    def _change(self) -> DnsChange:
        assert self._request is not None
        return change_for(self._request)

    async def _plan(self) -> None:
        """Record what the change would do to what the server serves now; stop on a conflict or a dry run."""
        assert self._request is not None
        request = self._request
        plan = await workflow.execute_local_activity_method(
            PlanningActivities.plan_change,
            change_for(request),
            start_to_close_timeout=PLAN_TIMEOUT,
            retry_policy=PLAN_RETRY,
        )
        text = plan.describe(f"{request.record_type} {request.domain}")
        self._state.plan = dataclasses.asdict(plan)
        usable = plan.action != "unknown" and not plan.conflict
        if self._everywhere and usable and self._story.may_snapshot(self._state.attempts):
            self._snapshot = plan  # what a rollback restores
        workflow.set_current_details(f"**plan**: {text}")
        await self._log(f"plan: {text}", step="plan", plan=self._state.plan)
        if plan.conflict:
            raise Outcome(S.REJECTED, f"refused: {plan.conflict}")
        if request.dry_run:
            raise Outcome(S.COMPLETED, "dry run: the plan above was not applied; DNS is unchanged")

    async def _apply_change(self, change: DnsChange, *, undo: bool = False) -> ApplyResult | None:
        """Run the Ansible step under the name's lock; None when it failed for good. `undo`: a rollback's.

        Operator actions (cancel, fail, resolve) interrupt it, also while waiting for the lock.
        """
        assert self._request is not None and self._params is not None
        request, policy = self._request, self._params.policy
        lock: LockRequest | None = None
        if not self._lean:  # lean: the apply activity waits for its turn on the name itself
            lock = LockRequest(lock_id_for(request.domain), workflow.info().workflow_id)
            self._lock_granted = False
            await self._call(NameLockActivities.request_name_lock, lock)
        try:
            if lock is not None:
                workflow.set_current_details(f"waiting for other changes to {request.domain} to finish")
                await self._serve_actions_until(lambda: self._lock_granted, None)
            self._state.attempts += 1
            self._story.undoing = undo
            # A final status must mean dnsorch no longer changes the name: a cancelled apply is
            # waited for until its playbook is dead, and only then is the name released.
            self._wait_for_apply_to_stop = self._lean or workflow.patched(WAIT_FOR_APPLY_TO_STOP)
            apply = workflow.start_activity_method(
                AnsibleActivities.apply_dns_change,
                change,
                start_to_close_timeout=timedelta(seconds=policy.timeout_seconds),
                heartbeat_timeout=timedelta(seconds=policy.heartbeat_seconds),
                retry_policy=apply_retry(policy),
                cancellation_type=(
                    ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
                    if self._wait_for_apply_to_stop
                    else ActivityCancellationType.TRY_CANCEL
                ),
                summary=f"nsupdate {change.operation} {change.record_type} {change.domain}",
            )
            self._apply_handle = apply
            workflow.set_current_details(f"applying {change.operation} {change.record_type} {change.domain}")
            await self._serve_actions_until(apply.done, apply)
        except (Exception, asyncio.CancelledError):
            # Not `finally`: that would also run when the worker evicts this workflow from its cache.
            if self._wait_for_apply_to_stop:
                await self._stop_apply()  # cancelled in Temporal while applying
            await self._release(lock)
            raise
        await self._release(lock)  # lean: the name is released with the request's next status
        try:
            result = apply.result()
        except ActivityError as error:
            if refused_for_good(error):
                raise Outcome(S.REJECTED, f"refused: {failure_reason(error)}") from None
            self._state.last_error = failure_reason(error)
            await self._log(f"Ansible step failed: {self._state.last_error}", step="apply")
            return None
        self._story.applied()
        return result

    async def _stop_apply(self) -> None:
        """Cancel the running apply and, once patched, wait until its playbook is dead."""
        apply = self._apply_handle
        if apply is not None and not apply.done():
            apply.cancel()  # kills the running playbook
            await asyncio.gather(apply, return_exceptions=True)

    def _applied_anyway(self) -> str | None:
        """What DNS serves when a cancelled apply finished all the same (its batch was running)."""
        apply = self._apply_handle
        if apply is None or not apply.done() or apply.cancelled() or apply.exception() is not None:
            return None
        if not workflow.patched(REPORT_LATE_CANCEL):
            return None
        self._story.applied()
        return _serves(apply.result())

    async def _release(self, lock: LockRequest | None) -> None:
        if lock is None:
            return
        await workflow.get_external_workflow_handle(lock.lock_id).signal("release", lock.holder)

    async def _serve_actions_until(
        self, ready: Callable[[], bool], apply: asyncio.Task[ApplyResult] | None
    ) -> None:
        """Wait for `ready`, carrying out the actions legal meanwhile (each ends the request)."""
        while True:
            await workflow.wait_condition(lambda: ready() or bool(self._queue))
            if ready():
                return
            ticket, action = self._queue.pop(0)
            try:
                self._check(action.action)
            except IllegalTransition as refused:
                self._done_tickets.add(ticket)
                await self._log(f"action ignored: {refused}", actor=action.actor)
                continue
            if apply is not None:
                await self._stop_apply()
                if (served := self._applied_anyway()) is not None:
                    raise Outcome(
                        S.COMPLETED,
                        f"{action.action} by {action.actor} came too late: the change was already applied; "
                        f"{served}",
                        actor=action.actor,
                        ticket=ticket,
                        store_record=True,
                        asked=f"{action.action} by {action.actor}{note(action)}",
                    )
            await self._settle_cancel(action, ticket)  # the apply is stopped: what does DNS serve?
            self._end_by(action, ticket)

    # ---- bookkeeping --------------------------------------------------------------------

    async def _finish(self) -> WorkflowState:
        for ticket, _ in self._queue:  # actions that arrived too late: their updates must return
            self._done_tickets.add(ticket)
        self._queue.clear()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state


_STARTED = "provisioning started"


def _started(params: ProvisioningInput) -> str:
    """The first IN_PROGRESS line: with the approval policy's verdict when the request carries one."""
    return f"{_STARTED} ({params.approval_verdict})" if params.approval_verdict else _STARTED


_AWAITING_APPROVAL = "waiting for an operator's approval"


def _scheduled(not_before: datetime) -> str:
    return f"scheduled: nothing is planned or applied before {not_before.isoformat()}"


def _needs(problem: str | None) -> str:
    return f"needs an operator: {problem}"


def _awaiting(params: ProvisioningInput) -> str:
    """The PENDING_APPROVAL message: the policy's reasons, and the deadline."""
    message = _AWAITING_APPROVAL
    if params.approval_reasons:
        message += f": {'; '.join(params.approval_reasons)}"
    if params.approval_timeout_seconds:
        message += f" (within {_duration(timedelta(seconds=params.approval_timeout_seconds))})"
    return message


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _serves(result: ApplyResult) -> str:
    return f"DNS server serves: {', '.join(result.served) or 'nothing (deleted)'}"
