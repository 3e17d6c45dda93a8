"""`dnsorch worker`: the Temporal worker, beside the workflows and activities it registers; runs
DnsProvisioningWorkflow and its activities until told to stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.ansible import AnsibleActivities
from activities.database import DatabaseActivities
from activities.drift import DriftActivities
from activities.expiry import ExpiryActivities
from activities.freezes import FreezeActivities
from activities.judging import JudgingActivities
from activities.name_claims import NameClaims, NameTurnActivities
from activities.name_lock import NameLockActivities
from activities.planning import PlanningActivities
from activities.turns_and_plans import TurnsAndPlansActivities
from activities.verification import VerificationActivities
from dnsorch import telemetry, temporal
from dnsorch.settings import Settings
from dnsorch.store import make_engine
from dnsorch.temporal import ProvisioningGateway, ensure_search_attributes
from worker.schedules import ensure_drift_schedule
from workflows.drift import DriftScanWorkflow
from workflows.expiry import RecordExpiryWorkflow
from workflows.name_lock import DnsNameLockWorkflow
from workflows.provisioning import DnsProvisioningWorkflow

log = logging.getLogger(__name__)
GRACEFUL_SHUTDOWN = timedelta(seconds=20)
PASSED_THROUGH = (
    "workflows",
    "activities",
    "dnsorch",
    "dns",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "sqlalchemy",
    "sqlmodel",
)
"""Modules the workflow sandbox takes from the worker as they are, instead of importing them afresh
for every workflow instance: ours (deterministic by contract, and the workflows import their
helpers passed through already) and the third-party ones they pull in. Re-executing
workflows/provisioning.py and its @workflow.defn for each request was most of what the sandbox
cost the worker (issue 24). The sandbox's checks still catch a non-deterministic call in a
workflow in the tests, which run the workflows in the SDK's default sandbox."""


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
    )


def build_worker(client, settings: Settings, engine) -> Worker:  # type: ignore[no-untyped-def]
    gateway = ProvisioningGateway(client, settings.temporal_task_queue)
    database = DatabaseActivities(engine, threads=settings.worker_db_threads)
    expiry = ExpiryActivities(engine, settings, gateway, database.pool)
    database.start_expiry = expiry.start  # a create or update completed with expires_at
    claims = NameClaims(engine, database.pool)
    ansible = AnsibleActivities(settings, claims=claims)
    # Heartbeats well inside the timeout the workflow gives the wait (ANSIBLE_HEARTBEAT_SECONDS).
    turns = NameTurnActivities(
        claims, heartbeat_every=max(1.0, min(5.0, settings.ansible_heartbeat_seconds / 3))
    )
    verification = VerificationActivities(settings)
    planning = PlanningActivities(settings, engine)
    drift = DriftActivities(engine, settings, gateway)
    if removed := ansible.sweep_orphaned_run_dirs():
        log.info("removed %d ansible run dirs left by a worker that died mid-run", removed)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[DnsProvisioningWorkflow, DnsNameLockWorkflow, DriftScanWorkflow, RecordExpiryWorkflow],
        activities=[
            database.begin_request,
            database.begin_request_and_freeze,
            database.finish_request,
            database.ensure_request_row,
            database.record_step,
            database.store_record,
            database.superseded,
            FreezeActivities(engine, database.pool).freeze_at,
            turns.take_name_turn,
            turns.wait_for_name_turn,
            TurnsAndPlansActivities(claims, planning.plan_change).take_turns_and_plan,
            ansible.apply_dns_change,
            ansible.apply_dns_changes,
            planning.plan_change,
            JudgingActivities(settings, engine).judge_request,
            verification.authoritative_servers,
            verification.check_served,
            verification.check_served_in_zone,
            NameLockActivities(client).request_name_lock,  # for workflows started before lean-request
            drift.scan_zone,
            drift.start_requests,
            expiry.warn,
            expiry.move,
            expiry.expire,
        ],
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        workflow_runner=workflow_runner(),
        max_cached_workflows=settings.worker_max_cached_workflows,
    )


def main(settings: Settings) -> None:
    """The role's entry point (dnsorch/cli/dispatch.py dispatches here)."""
    asyncio.run(run_worker(settings))


async def run_worker(settings: Settings) -> None:
    # ansible-runner looks for ansible-playbook on PATH: make it the one beside our interpreter.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    telemetry.configure_tracing(settings, "worker")
    # Its own runtime serves the SDK's metrics (and the playbook's) on WORKER_METRICS_PORT.
    client = await temporal.connect(settings, runtime=telemetry.worker_runtime(settings))
    await ensure_search_attributes(client, settings.temporal_namespace)
    engine = make_engine(settings.database_url, threads=settings.worker_db_threads)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = build_worker(client, settings, engine)
    await ensure_drift_schedule(client, settings)
    log.info(
        "worker polling task queue %s on %s",
        settings.temporal_task_queue,
        settings.temporal_address,
    )
    async with worker:
        await stop.wait()
        log.info("worker stopping: finishing in-flight activities")
    engine.dispose()
