"""The request's bookkeeping, for DnsProvisioningWorkflow: each status change and log line is written
to PostgreSQL through an activity (a local one once lean), in order, with the id the workflow made
for it, so a retried write adds nothing. A line may wait for the next write (`defer`, patch
fewer-round-trips), which carries it first. Deterministic code only, like the workflow itself."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, cast

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.database import DatabaseActivities
    from dnsorch.contracts import (
        DRIFT_SOURCE,
        BeginAnswer,
        BeginRequest,
        FinishRequest,
        LogStep,
        RecordRow,
        RequestStatus,
    )
    from dnsorch.temporal import search_attributes as sa
    from workflows.policy import DB_RETRY, DB_TIMEOUT
    from workflows.run_state import RequestRun


def record_row(run: RequestRun) -> RecordRow:
    """The row DNS serves: `provisioned_at` is when the change was served everywhere when that
    is known, not when the request ended (its PTRs may have kept it open for hours, while a
    later request changed the name; see served_records.apply_record)."""
    return RecordRow.of(run.request, run.served_at or workflow.now())


async def transition(
    run: RequestRun,
    status: RequestStatus,
    message: str,
    *,
    step: str,
    actor: str = "workflow",
    begin: bool = False,
    record: RecordRow | None = None,
) -> None:
    """Move to `status` and write it; `begin` writes the row too, `record` the served record."""
    previous = run.state.status
    run.state.status, run.state.step = status, step
    workflow.upsert_search_attributes([sa.STATUS.value_set(status.value)])
    workflow.set_current_details(f"**{status.value}** ({step}): {message}")
    await log(
        run,
        f"{previous} → {status.value}: {message}",
        status=status,
        step=step,
        actor=actor,
        previous=previous,
        begin=begin,
        record=record,
    )


async def log(
    run: RequestRun,
    message: str,
    *,
    status: RequestStatus | None = None,
    step: str = "",
    actor: str = "workflow",
    previous: str | None = None,
    begin: bool = False,
    record: RecordRow | None = None,
    plan: dict[str, Any] | None = None,
    propagation: dict[str, float] | None = None,
    not_before: datetime | None = None,
    approver: str | None = None,
    defer: bool = False,
) -> None:
    """Add a line to the timeline and write it; `defer` (once fewer-round-trips) keeps it for the
    next write instead: the `state` query shows it at once all the same."""
    request = run.request
    if actor == "workflow" and request.source == DRIFT_SOURCE:
        actor = DRIFT_SOURCE  # what a drift request does, drift detection does (not a person)
    entry = LogStep(
        request_id=request.request_id,
        entry_id=str(workflow.uuid4()),
        at=workflow.now(),
        message=message,
        status=status.value if status else None,
        step=step,
        actor=actor,
        previous=previous,
        plan=plan,
        propagation=propagation,
        not_before=not_before,
        approver=approver,
    )
    run.state.log.append(
        {"at": entry.at.isoformat(), "message": message, "status": entry.status or "", "actor": actor}
    )
    if defer and run.fewer_round_trips:
        run.deferred.append(entry)
        return
    taken, run.deferred = run.deferred, []  # taken now: lines kept back later follow this one
    entry.earlier = list(taken)
    try:
        await _write(run, entry, begin, record)
    except BaseException:
        run.deferred[:0] = taken  # not written: the next write carries them
        raise


async def flush(run: RequestRun) -> None:
    """Write the lines kept back, before the workflow waits (a timer, an operator, a child)."""
    if not run.deferred:
        return
    *earlier, last = run.deferred
    run.deferred = []
    entry = dataclasses.replace(last, earlier=list(earlier))
    try:
        await _write(run, entry, begin=False, record=None)
    except BaseException:
        run.deferred[:0] = [*earlier, last]
        raise


async def _write(run: RequestRun, entry: LogStep, begin: bool, record: RecordRow | None) -> None:
    request = run.request
    async with run.write_lock:
        if begin and run.freeze_with_begin:  # the zone's freeze with it (workflows/freeze.py)
            begun = BeginRequest(request, entry)
            run.freezes_changed = False  # as freeze.py does before it asks: a window ended later wakes it
            run.begun = cast(BeginAnswer, await call(run, DatabaseActivities.begin_request_and_freeze, begun))
        elif begin:
            await call(run, DatabaseActivities.begin_request, BeginRequest(request, entry))
        elif record is not None:
            finish = FinishRequest(entry, record, list(run.ptr_kept.values()))  # PTRs: workflows/ptrs.py
            await call(run, DatabaseActivities.finish_request, finish)
        else:
            await call(run, DatabaseActivities.record_step, entry)


async def call(run: RequestRun, activity_method, arg) -> object:  # type: ignore[no-untyped-def]
    """A database write: a local activity once lean (no task of its own in Temporal)."""
    if run.lean:
        return await workflow.execute_local_activity_method(
            activity_method, arg, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
        )
    return await workflow.execute_activity_method(
        activity_method, arg, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
    )
