"""The Ansible step's metrics, recorded through the Temporal SDK's meter so they are served on the
worker's metrics endpoint beside the SDK's own (see dnsorch.telemetry.worker_runtime).

Without a metrics runtime (tests, WORKER_METRICS_PORT=0) the meter is a no-op.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from dnsorch.contracts import DNS_CHANGE_FAILED, DNS_CHANGE_NOT_SERVED, DNS_CHANGE_REJECTED
from dnsorch.telemetry import (
    BATCH_CHANGES,
    BATCH_FLUSHES,
    BATCH_REFUSED,
    PLAYBOOK_ATTEMPTS,
    PLAYBOOK_DURATION,
    PROPAGATION,
)

# ApplicationError types the Ansible step raises (activities.ansible), as attempt outcomes.
_OUTCOME_OF_ERROR = {
    DNS_CHANGE_REJECTED: "rejected",
    DNS_CHANGE_FAILED: "failed",
    DNS_CHANGE_NOT_SERVED: "not_served",
}


def playbook_outcome(status: str, permanent: bool) -> str:
    """ansible-runner's status as a label: success, failed, rejected, timeout or cancelled."""
    if status == "successful":
        return "success"
    if status == "canceled":
        return "cancelled"
    if status == "timeout":
        return "timeout"
    return "rejected" if permanent else "failed"


def attempt_outcome(error: BaseException | None) -> str:
    """How an attempt of apply_dns_change ended, from the exception it raised (None: success)."""
    if error is None:
        return "success"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    if isinstance(error, ApplicationError):
        return _OUTCOME_OF_ERROR.get(error.type or "", "error")
    return "error"


def observe_playbook(outcome: str, record_type: str, seconds: float) -> None:
    activity.metric_meter().create_histogram_float(
        PLAYBOOK_DURATION, "Wall time of one ansible-playbook run, by outcome and record type."
    ).record(seconds, {"outcome": outcome, "record_type": record_type})


def count_attempt(outcome: str) -> None:
    activity.metric_meter().create_counter(
        PLAYBOOK_ATTEMPTS, "Attempts of the Ansible step (apply_dns_change), by outcome."
    ).add(1, {"outcome": outcome})


def observe_batch(reason: str, size: int, seconds: float, outcomes: Mapping[str, Any]) -> None:
    """A flushed batch: its size, why it was flushed, and the changes the server refused in it
    (each isolated from its neighbours by splitting the UPDATE)."""
    meter = activity.metric_meter()
    meter.create_counter(BATCH_FLUSHES, "Batches applied, by flush reason (size or age).").add(
        1, {"reason": reason}
    )
    meter.create_histogram(BATCH_CHANGES, "Changes per applied batch.").record(size)
    refused = sum(1 for o in outcomes.values() if getattr(o, "status", "") in ("refused", "conflict"))
    if refused:
        meter.create_counter(BATCH_REFUSED, "Changes the server refused, isolated from their batch.").add(
            refused
        )


def observe_propagation(server: str, seconds: float) -> None:
    """How long after the primary one authoritative server served an applied change."""
    activity.metric_meter().create_histogram_float(
        PROPAGATION, "Seconds from the primary serving a change to each authoritative server serving it."
    ).record(seconds, {"server": server})
