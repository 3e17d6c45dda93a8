"""Waiting for the stack to come to rest before the checker reads it.

1. No provisioning workflow and no record expiry (its delete is still to come) runs, and every
   produced message is a row or a dead letter.
2. One drift scan that started after that has ended (it heals what people changed by hand, and raises
   drift wherever dnsorch left DNS and `dns_records` apart), then step 1 again for its requests. The
   scan is triggered on the drift schedule at once rather than waited for at its next tick.
3. The Knot secondary has caught up with BIND's serial.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from temporalio.client import Client, ScheduleOverlapPolicy

from dnsorch.settings import Settings
from dnsorch.store import make_engine
from soak.history import History
from soak.stack import SoakStack

log = logging.getLogger("soak")
POLL = 0.5
"""Each probe is one count query and one SELECT: cheap enough to ask often, so settling ends promptly."""


async def settle(stack: SoakStack, history: History, patience: float) -> None:
    temporal = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    await quiet(temporal, stack, history, patience)
    since = datetime.now(UTC)
    await trigger_drift_scan(temporal, history)
    scanned = await drift_scan_after(temporal, history, since, patience)
    if scanned:
        await quiet(temporal, stack, history, patience)
    stack.thaw_knot()
    await asyncio.to_thread(wait_secondary, stack)


async def quiet(temporal: Client, stack: SoakStack, history: History, patience: float) -> None:
    """Wait until no provisioning workflow runs and every produced message is a row or a dead letter."""
    deadline = time.monotonic() + patience
    running = -1
    while time.monotonic() < deadline:
        try:
            running = await _count_running(temporal)
        except Exception as error:  # Temporal restarting: ask again
            history.record("settle_probe_error", error=repr(error)[:200])
            await asyncio.sleep(POLL)
            continue
        unconsumed = await asyncio.to_thread(unaccounted_messages, stack, history)
        if running == 0 and unconsumed == 0:
            history.record("settled")
            return
        await asyncio.sleep(POLL)
    history.record("settle_deadline", running=running)


async def trigger_drift_scan(temporal: Client, history: History) -> None:
    """Start a tick of the drift schedule now (a scan still running is let finish: the schedule skips
    overlaps, and the wait below then takes the next tick instead)."""
    schedule_id = Settings.model_fields["drift_schedule_id"].default
    try:
        await temporal.get_schedule_handle(schedule_id).trigger(overlap=ScheduleOverlapPolicy.SKIP)
    except Exception as error:  # no schedule, or Temporal restarting: the next tick still comes
        history.record("drift_trigger_error", error=repr(error)[:200])


async def drift_scan_after(temporal: Client, history: History, since: datetime, patience: float) -> bool:
    """Wait for a DriftScanWorkflow that started after `since` to close; record its summary."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        async for run in temporal.list_workflows('WorkflowType = "DriftScanWorkflow"'):
            if run.start_time is None or run.start_time <= since or run.close_time is None:
                continue
            summary: Any = None
            try:
                summary = await temporal.get_workflow_handle(run.id, run_id=run.run_id).result()
            except Exception as error:  # a scan that failed says so in the history
                summary = repr(error)[:300]
            history.record("drift_scan_after_settle", workflow_id=run.id, summary=_short(summary))
            return True
        await asyncio.sleep(POLL)
    history.record("drift_scan_deadline")
    return False


def _short(summary: Any) -> Any:
    """The scan's figures and, per zone, what drifted and which requests it started."""
    if not isinstance(summary, dict):
        return summary
    keep = ("drifted", "unmanaged", "requests_started", "policy")
    zones = [
        {k: zone.get(k) for k in ("zone", "drifted", "requests", "errors")}
        for zone in summary.get("zones", [])
    ]
    return {**{k: summary.get(k) for k in keep}, "zones": zones}


async def _count_running(temporal: Client) -> int:
    count = await temporal.count_workflows(
        '(WorkflowType = "DnsProvisioningWorkflow" OR WorkflowType = "RecordExpiryWorkflow") '
        'AND ExecutionStatus = "Running"'
    )
    return count.count


def unaccounted_messages(stack: SoakStack, history: History) -> int:
    """Produced messages that are neither a row nor a dead letter yet (the consumer is behind)."""
    produced = [e for e in history.events if e["kind"] == "produce" and "offset" in e]
    engine = make_engine(stack.database_url)
    try:
        with engine.connect() as conn:
            ids = {
                str(r[0]) for r in conn.execute(text("SELECT id FROM dns_requests WHERE source = 'kafka'"))
            }
            dead = {(r[0], r[1]) for r in conn.execute(text('SELECT partition, "offset" FROM dead_letters'))}
    except Exception:
        return -1
    finally:
        engine.dispose()
    return sum(
        1 for e in produced if e["request_id"] not in ids and (e["partition"], e["offset"]) not in dead
    )


def wait_secondary(stack: SoakStack, timeout: float = 20.0) -> None:
    assert stack.bind is not None and stack.knot is not None
    for zone in stack.bind.zones:
        serial = stack.bind.serial(zone)
        if serial is not None:
            try:
                stack.knot.wait_serial(zone, serial, timeout)
            except TimeoutError as error:
                log.warning("%s", str(error).splitlines()[0])
