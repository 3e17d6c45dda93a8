"""The timeline lines DnsProvisioningWorkflow writes at its steps, in one place so each reads the
same wherever the step happens. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import ApplyResult, ProvisioningInput

STARTED = "provisioning started"
AWAITING_APPROVAL = "waiting for an operator's approval"


def started(params: ProvisioningInput) -> str:
    """The first IN_PROGRESS line: with the approval policy's verdict when the request carries one."""
    return f"{STARTED} ({params.approval_verdict})" if params.approval_verdict else STARTED


def scheduled(not_before: datetime) -> str:
    return f"scheduled: nothing is planned or applied before {not_before.isoformat()}"


def needs(problem: str | None) -> str:
    return f"needs an operator: {problem}"


def awaiting(params: ProvisioningInput) -> str:
    """The PENDING_APPROVAL message: the policy's reasons, and the deadline."""
    message = AWAITING_APPROVAL
    if params.approval_reasons:
        message += f": {'; '.join(params.approval_reasons)}"
    if params.approval_timeout_seconds:
        message += f" (within {duration(timedelta(seconds=params.approval_timeout_seconds))})"
    return message


def duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def serves(result: ApplyResult) -> str:
    return f"DNS server serves: {', '.join(result.served) or 'nothing (deleted)'}"
