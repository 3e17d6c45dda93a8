"""The worker's Temporal Schedules: the drift scan, created or brought up to date at worker start.

Creating is idempotent: a schedule that exists already gets this worker's interval, zones, policy and
task queue, and keeps its state (an operator's pause survives a worker restart). Scans never overlap.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from dnsorch.contracts import DriftScanInput
from dnsorch.settings import Settings
from workflows.drift import DriftScanWorkflow

log = logging.getLogger(__name__)
SCAN_RUN_TIMEOUT = timedelta(minutes=30)
"""A scan that hangs ends here, so the next tick (skipped while one runs) can start."""


def drift_schedule(settings: Settings) -> Schedule:
    zones = ", ".join(settings.dns_zones)
    params = DriftScanInput(
        zones=list(settings.dns_zones),
        policy=settings.drift_policy,
        max_requests_per_zone=settings.drift_max_requests_per_zone,
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DriftScanWorkflow.run,
            params,
            id=settings.drift_schedule_id,
            task_queue=settings.temporal_task_queue,
            execution_timeout=SCAN_RUN_TIMEOUT,
            static_summary=f"Drift scan of {zones} ({settings.drift_policy})",
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.drift_interval_seconds))]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_drift_schedule(client: Client, settings: Settings) -> None:
    """Create the drift schedule, or update it to these settings; nothing when the interval is 0."""
    if settings.drift_interval_seconds <= 0:
        log.info("drift schedule %s left as it is (DRIFT_INTERVAL_SECONDS=0)", settings.drift_schedule_id)
        return
    schedule = drift_schedule(settings)
    try:
        await client.create_schedule(settings.drift_schedule_id, schedule)
        verb = "created"
    except ScheduleAlreadyRunningError:

        def updated(current: ScheduleUpdateInput) -> ScheduleUpdate:
            schedule.state = current.description.schedule.state
            return ScheduleUpdate(schedule)

        await client.get_schedule_handle(settings.drift_schedule_id).update(updated)
        verb = "updated"
    log.info(
        "drift schedule %s %s: every %ds, policy %s, zones %s",
        settings.drift_schedule_id,
        verb,
        settings.drift_interval_seconds,
        settings.drift_policy,
        ", ".join(settings.dns_zones),
    )
