"""The apply, for DnsProvisioningWorkflow: the Ansible step that sends the change, and the operator
actions served while it runs (or while the request waits for its turn on the name). A cancelled apply
is waited for until its playbook is dead, so a final status means dnsorch no longer changes the name.
Deterministic code only: the playbook runs in an activity.

`apply_change` is the one way a change reaches DNS (the request's own, and a rollback's restore): a
step that must surround every apply wraps it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.ansible import AnsibleActivities
    from activities.name_lock import NameLockActivities
    from dnsorch.contracts import (
        ApplyResult,
        ChangeSet,
        ChangeSetResult,
        DnsChange,
        LockRequest,
        OperatorAction,
        RequestStatus,
    )
    from workflows.bookkeeping import call, flush, log
    from workflows.messages import serves
    from workflows.name_lock import lock_id_for
    from workflows.operators import end_by, take_legal
    from workflows.outcome import Outcome, note
    from workflows.patches import REPORT_LATE_CANCEL, WAIT_FOR_APPLY_TO_STOP, patched
    from workflows.policy import apply_retry, failure_reason, refused_for_good
    from workflows.run_state import RequestRun

S = RequestStatus

Settle = Callable[[OperatorAction, int], Awaitable[None]]
"""What a cancel or fail does before it ends the request (workflows/cancel_check.py's `settler`)."""


async def apply_change(
    run: RequestRun,
    change: DnsChange,
    settle: Settle,
    *,
    undo: bool = False,
    ptrs: list[DnsChange] | None = None,
) -> ApplyResult | None:
    """Run the Ansible step under the name's lock; None when it failed for good. `undo`: a rollback's.
    `ptrs` (workflows/ptrs.py): PTR changes that ride in the same activity call; what became of
    each is left in `run.ptr_outcomes`.

    Operator actions (cancel, fail, resolve) interrupt it, also while waiting for the lock.
    """
    assert run.params is not None
    request, policy = run.request, run.params.policy
    if run.fewer_steps:  # the plan lines kept back: on the timeline while the apply runs
        await flush(run)
    lock: LockRequest | None = None
    if not run.lean:  # lean: the apply activity waits for its turn on the name itself
        lock = LockRequest(lock_id_for(request.domain), workflow.info().workflow_id)
        run.lock_granted = False
        await call(run, NameLockActivities.request_name_lock, lock)
    try:
        if lock is not None:
            workflow.set_current_details(f"waiting for other changes to {request.domain} to finish")
            await serve_actions_until(run, lambda: run.lock_granted, None, settle)
        run.state.attempts += 1
        run.story.undoing = undo
        # A final status must mean dnsorch no longer changes the name: a cancelled apply is
        # waited for until its playbook is dead, and only then is the name released.
        run.wait_for_apply_to_stop = run.lean or patched(WAIT_FOR_APPLY_TO_STOP)
        options: dict[str, Any] = dict(
            start_to_close_timeout=timedelta(seconds=policy.timeout_seconds),
            heartbeat_timeout=timedelta(seconds=policy.heartbeat_seconds),
            retry_policy=apply_retry(policy),
            cancellation_type=(
                ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
                if run.wait_for_apply_to_stop
                else ActivityCancellationType.TRY_CANCEL
            ),
            summary=f"nsupdate {change.operation} {change.record_type} {change.domain}",
        )
        apply: asyncio.Task[ApplyResult | ChangeSetResult]
        if ptrs is None:
            apply = workflow.start_activity_method(AnsibleActivities.apply_dns_change, change, **options)
        else:
            run.ptr_outcomes = []
            options["summary"] += f" and {len(ptrs)} PTR change(s)"
            restores = (
                [] if undo else [run.ptr_restores[p.domain] for p in ptrs if p.domain in run.ptr_restores]
            )
            apply = workflow.start_activity_method(
                AnsibleActivities.apply_dns_changes, ChangeSet(change, ptrs, restores), **options
            )
        run.apply_handle = apply
        workflow.set_current_details(f"applying {change.operation} {change.record_type} {change.domain}")
        await serve_actions_until(run, apply.done, apply, settle)
    except (Exception, asyncio.CancelledError):
        # Not `finally`: that would also run when the worker evicts this workflow from its cache.
        if run.wait_for_apply_to_stop:
            await stop_apply(run)  # cancelled in Temporal while applying
        await _release(lock)
        raise
    await _release(lock)  # lean: the name is released with the request's next status
    try:
        result = _own(run, apply.result())
    except ActivityError as error:
        if refused_for_good(error):
            raise Outcome(S.REJECTED, f"refused: {failure_reason(error)}") from None
        run.state.last_error = failure_reason(error)
        await log(run, f"Ansible step failed: {run.state.last_error}", step="apply")
        return None
    run.story.applied()
    return result


def _own(run: RequestRun, result: ApplyResult | ChangeSetResult) -> ApplyResult:
    """The request's own change's result; PTR outcomes that rode with it go to `run.ptr_outcomes`."""
    if isinstance(result, ChangeSetResult):
        run.ptr_outcomes = result.ptrs
        return result.result
    return result


async def stop_apply(run: RequestRun) -> None:
    """Cancel the running apply and, once patched, wait until its playbook is dead."""
    apply = run.apply_handle
    if apply is not None and not apply.done():
        apply.cancel()  # kills the running playbook
        await asyncio.gather(apply, return_exceptions=True)


def applied_anyway(run: RequestRun) -> str | None:
    """What DNS serves when a cancelled apply finished all the same (its batch was running)."""
    apply = run.apply_handle
    if apply is None or not apply.done() or apply.cancelled() or apply.exception() is not None:
        return None
    if run.dance_step_applying:  # the TTL's step, not the change: the cancel restores the old TTL
        return None
    if not patched(REPORT_LATE_CANCEL):
        return None
    run.story.applied()
    return serves(_own(run, apply.result()))


async def _release(lock: LockRequest | None) -> None:
    if lock is None:
        return
    await workflow.get_external_workflow_handle(lock.lock_id).signal("release", lock.holder)


async def serve_actions_until(
    run: RequestRun,
    ready: Callable[[], bool],
    apply: asyncio.Task[ApplyResult | ChangeSetResult] | None,
    settle: Settle,
) -> None:
    """Wait for `ready`, carrying out the actions legal meanwhile (each ends the request)."""
    while True:
        await workflow.wait_condition(lambda: ready() or bool(run.queue))
        if ready():
            return
        if (taken := await take_legal(run)) is None:
            continue
        ticket, action = taken
        if apply is not None:
            await stop_apply(run)
            if (served := applied_anyway(run)) is not None:
                raise Outcome(
                    S.COMPLETED,
                    f"{action.action} by {action.actor} came too late: the change was already applied; "
                    f"{served}",
                    actor=action.actor,
                    ticket=ticket,
                    store_record=True,
                    asked=f"{action.action} by {action.actor}{note(action)}",
                )
        await settle(action, ticket)  # the apply is stopped: what does DNS serve?
        end_by(action, ticket)
