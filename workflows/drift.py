"""DriftScanWorkflow: one run per tick of the `dnsorch-drift-scan` schedule (worker/schedules.py).

For each managed zone it scans (an activity: every authoritative server read once, compared with
`dns_records`), then starts one provisioning request per drifted managed record set, `restore` of
what dnsorch recorded: healed at once (DRIFT_POLICY=heal) or held in NEEDS_ATTENTION for an operator
(raise). Unmanaged record sets are only reported. The result is the scan's summary, which the
Temporal UI shows on the run.

Deterministic code only: time from `workflow.now()`, all I/O in the activities.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.drift import DriftActivities
    from dnsorch.contracts import (
        DriftRequests,
        DriftScanInput,
        DriftScanSummary,
        ZoneDriftSummary,
        ZoneScan,
        ZoneScanInput,
    )
    from workflows.policy import failure_reason

# A scan reads each server once (an AXFR is limited to 120 s); a server that refuses it is asked
# record set by record set. Retried a few times, then the zone's summary says why it was not scanned.
SCAN_TIMEOUT = timedelta(minutes=5)
SCAN_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=3)
# Starting requests writes rows and starts workflows: retried until PostgreSQL and Temporal answer,
# within the run; request ids derive from the run, so a retry starts nothing twice.
START_TIMEOUT = timedelta(minutes=2)
START_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(seconds=30), maximum_attempts=10
)


@workflow.defn
class DriftScanWorkflow:
    @workflow.run
    async def run(self, params: DriftScanInput) -> DriftScanSummary:
        summary = DriftScanSummary(policy=params.policy, started_at=workflow.now())
        for zone in params.zones:
            zone_summary = await self._zone(params, zone)
            summary.zones.append(zone_summary)
            summary.drifted += zone_summary.drifted_count
            summary.unmanaged += zone_summary.unmanaged_count
            summary.requests_started += zone_summary.requests_started
        summary.seconds = round((workflow.now() - summary.started_at).total_seconds(), 3)
        workflow.set_current_details(_details(summary))
        return summary

    async def _zone(self, params: DriftScanInput, zone: str) -> ZoneDriftSummary:
        try:
            scan = await workflow.execute_activity_method(
                DriftActivities.scan_zone,
                ZoneScanInput(zone, params.max_requests_per_zone, params.max_listed),
                start_to_close_timeout=SCAN_TIMEOUT,
                retry_policy=SCAN_RETRY,
                summary=f"scan {zone}",
            )
        except ActivityError as error:
            return ZoneDriftSummary(zone, errors=[f"not scanned: {failure_reason(error)}"])
        summary = _zone_summary(scan, params.max_listed)
        to_start = [d for d in scan.drifted if not d.pending_request]
        summary.requests += [
            f"{d.pending_request} {d.record_type} {d.domain}: left to the request already under way"
            for d in scan.drifted
            if d.pending_request
        ]
        if not to_start:
            return summary
        try:
            starts = await workflow.execute_activity_method(
                DriftActivities.start_requests,
                DriftRequests(zone, workflow.info().run_id, params.policy, to_start),
                start_to_close_timeout=START_TIMEOUT,
                retry_policy=START_RETRY,
                summary=f"{params.policy} {len(to_start)} drifted record sets in {zone}",
            )
        except ActivityError as error:
            summary.errors.append(f"no drift request started: {failure_reason(error)}")
            return summary
        summary.requests_started = sum(1 for start in starts if start.started)
        for start in starts:
            verb = "started" if start.started else "not started"
            summary.requests.append(
                f"{start.request_id} {start.record_type} {start.domain}: {verb} ({start.note})"
            )
        return summary


def _zone_summary(scan: ZoneScan, listed: int) -> ZoneDriftSummary:
    return ZoneDriftSummary(
        zone=scan.zone,
        servers=scan.servers,
        record_sets=scan.record_sets,
        drifted_count=scan.drifted_count,
        unmanaged_count=scan.unmanaged_count,
        drifted=[f"{d.kind} {d.describe()}" for d in scan.drifted[:listed]],
        unmanaged=[d.describe() for d in scan.unmanaged[:listed]],
        errors=list(scan.unreadable),
        seconds=scan.seconds,
    )


def _details(summary: DriftScanSummary) -> str:
    """The run's current details in the Temporal UI (markdown)."""
    lines = [
        f"**drift scan** ({summary.policy}): {summary.drifted} drifted, {summary.unmanaged} unmanaged, "
        f"{summary.requests_started} requests started, {summary.seconds:.1f}s"
    ]
    for zone in summary.zones:
        lines.append(
            f"- {zone.zone}: {zone.record_sets} managed record sets, {zone.drifted_count} drifted, "
            f"{zone.unmanaged_count} unmanaged{'; ' + '; '.join(zone.errors) if zone.errors else ''}"
        )
    return "\n".join(lines)
