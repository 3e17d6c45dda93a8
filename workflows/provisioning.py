"""DnsProvisioningWorkflow: one durable workflow per DNS request.

Deterministic code only: time comes from `workflow.now()`, ids from `workflow.uuid4()`, and all
I/O happens in activities. The log-line ids the workflow makes are what keep the database
activities idempotent across retries.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.ansible import AnsibleActivities
    from activities.database import DatabaseActivities
    from dnsorch import search_attributes as sa
    from dnsorch.contracts import (
        ApplyPolicy,
        ApplyResult,
        DnsChange,
        DnsRequestSpec,
        LogStep,
        ProvisioningInput,
        RecordRow,
        RequestStatus,
        StatusChange,
        WorkflowState,
    )
    from dnsorch.records import rdata_values

# Database writes retry until PostgreSQL is back: an outage must delay a request, not fail it.
DB_TIMEOUT = timedelta(seconds=30)
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)


def apply_retry(policy: ApplyPolicy) -> RetryPolicy:
    """Exponential backoff for the Ansible step; rejected changes are never retried."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=policy.initial_retry_seconds),
        backoff_coefficient=policy.retry_backoff,
        maximum_interval=timedelta(seconds=policy.max_retry_seconds),
        maximum_attempts=policy.max_attempts,
        non_retryable_error_types=["DnsChangeRejected"],
    )


def failure_reason(error: BaseException) -> str:
    """The most specific message in an activity failure's cause chain."""
    cause: BaseException | None = error
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause) if cause is not None else "unknown error"


@workflow.defn
class DnsProvisioningWorkflow:
    def __init__(self) -> None:
        self._request: DnsRequestSpec | None = None
        self._state = WorkflowState(request_id="", status=RequestStatus.PENDING, step="accepted")
        self._write_lock = asyncio.Lock()
        self._manual_terminal: str | None = None
        self._row_ready = False
        self._finished = False

    @workflow.run
    async def run(self, params: ProvisioningInput) -> WorkflowState:
        request = self._request = params.request
        self._state.request_id = request.request_id
        await workflow.execute_activity_method(
            DatabaseActivities.ensure_request_row,
            request,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        self._row_ready = True
        await self._transition(RequestStatus.IN_PROGRESS, "provisioning started", step="apply")

        apply = workflow.start_activity_method(
            AnsibleActivities.apply_dns_change,
            self._change(request),
            start_to_close_timeout=timedelta(seconds=params.policy.timeout_seconds),
            heartbeat_timeout=timedelta(seconds=params.policy.heartbeat_seconds),
            retry_policy=apply_retry(params.policy),
            summary=f"nsupdate {request.record_type} {request.domain}",
        )
        self._state.attempts += 1
        await workflow.wait_condition(lambda: apply.done() or self._manual_terminal is not None)
        if self._manual_terminal is not None and not apply.done():
            apply.cancel()
            await asyncio.gather(apply, return_exceptions=True)
            return await self._finish()

        try:
            result: ApplyResult = apply.result()
        except ActivityError as error:
            reason = failure_reason(error)
            self._state.last_error = reason
            if self._manual_terminal is None:
                await self._transition(RequestStatus.FAILED, f"provisioning failed: {reason}", step="failed")
            return await self._finish()

        if self._manual_terminal is None:
            await self._store_record(request, result)
            await self._transition(
                RequestStatus.COMPLETED,
                f"record served by the DNS server: {', '.join(result.served)}",
                step="completed",
            )
        return await self._finish()

    @workflow.signal
    async def update_status(self, change: StatusChange) -> None:
        """An operator's manual status; a terminal one ends the request where it stands."""
        if change.status not in RequestStatus.__members__:
            workflow.logger.warning("ignoring unknown status %r", change.status)
            return
        await workflow.wait_condition(lambda: self._row_ready)
        if self._finished or self._manual_terminal is not None:
            await self._log(
                f"manual status {change.status} ignored: request already {self._state.status}",
                actor=change.actor,
            )
            return
        status = RequestStatus(change.status)
        note = f": {change.message}" if change.message else ""
        await self._transition(
            status,
            f"status set to {status} by {change.actor}{note}",
            step="manual",
            actor=change.actor,
        )
        if status.is_terminal:
            self._manual_terminal = status

    @workflow.query
    def state(self) -> WorkflowState:
        return self._state

    async def _finish(self) -> WorkflowState:
        self._finished = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    def _change(self, request: DnsRequestSpec) -> DnsChange:
        return DnsChange(
            request_id=request.request_id,
            operation=request.operation,
            record_type=request.record_type,
            domain=request.domain,
            zone=request.zone,
            values=rdata_values(request.record_type, request.target, request.priority, request.extra_config),
            ttl=request.ttl,
        )

    async def _store_record(self, request: DnsRequestSpec, result: ApplyResult) -> None:
        row = RecordRow(
            request_id=request.request_id,
            record_type=request.record_type,
            domain=request.domain,
            target=request.target,
            ttl=request.ttl,
            priority=request.priority,
            comment=request.comment,
            provisioned_at=workflow.now(),
        )
        await workflow.execute_activity_method(
            DatabaseActivities.store_record,
            row,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )

    async def _transition(
        self, status: RequestStatus, message: str, *, step: str, actor: str = "workflow"
    ) -> None:
        self._state.status = status
        self._state.step = step
        workflow.upsert_search_attributes([sa.STATUS.value_set(status.value)])
        workflow.set_current_details(f"{status.value}: {message}")
        await self._log(message, status=status, step=step, actor=actor)

    async def _log(
        self,
        message: str,
        *,
        status: RequestStatus | None = None,
        step: str = "",
        actor: str = "workflow",
    ) -> None:
        assert self._request is not None
        entry = LogStep(
            request_id=self._request.request_id,
            entry_id=str(workflow.uuid4()),
            at=workflow.now(),
            message=message,
            status=status.value if status else None,
            step=step,
            actor=actor,
        )
        self._state.log.append({"at": entry.at.isoformat(), "message": message, "status": entry.status or ""})
        async with self._write_lock:
            await workflow.execute_activity_method(
                DatabaseActivities.record_step,
                entry,
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
            )
