"""DriftScanWorkflow's paths, with stub activities registered under the real names."""

from __future__ import annotations

import uuid

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from dnsorch.contracts import (
    DriftedRRset,
    DriftRequests,
    DriftRequestStart,
    DriftScanInput,
    DriftScanSummary,
    ManagedRecord,
    ServedBy,
    ZoneScan,
    ZoneScanInput,
)
from workflows.drift import DriftScanWorkflow

NS2 = "ns2.example.test (127.0.0.2)"


def drifted(name: str, pending: str = "") -> DriftedRRset:
    return DriftedRRset(
        "example.test",
        name,
        "A",
        "changed",
        ["192.0.2.10"],
        300,
        [ServedBy(NS2, ["192.0.2.99"], 300)],
        ManagedRecord("acct-1", "192.0.2.10", 300),
        pending_request=pending,
    )


class Stubs:
    def __init__(self, scans: dict[str, ZoneScan | ApplicationError]) -> None:
        self.scans = scans
        self.started: list[DriftRequests] = []

    @activity.defn(name="scan_zone_for_drift")
    async def scan_zone(self, scan: ZoneScanInput) -> ZoneScan:
        found = self.scans[scan.zone]
        if isinstance(found, ApplicationError):
            raise found
        return found

    @activity.defn(name="start_drift_requests")
    async def start_requests(self, batch: DriftRequests) -> list[DriftRequestStart]:
        self.started.append(batch)
        return [
            DriftRequestStart(d.domain, d.record_type, f"req-{d.domain}", True, "healing")
            for d in batch.drifted
        ]


async def scan(env: WorkflowEnvironment, stubs: Stubs, params: DriftScanInput) -> DriftScanSummary:
    queue = f"drift-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[DriftScanWorkflow],
        activities=[stubs.scan_zone, stubs.start_requests],
    ):
        return await env.client.execute_workflow(
            DriftScanWorkflow.run, params, id=f"drift-{uuid.uuid4()}", task_queue=queue
        )


async def test_drifted_record_sets_get_one_request_each_unless_one_is_under_way(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    unmanaged = DriftedRRset("example.test", "hand.example.test", "TXT", "unmanaged", served=[ServedBy(NS2)])
    found = ZoneScan(
        "example.test",
        servers=[NS2],
        record_sets=3,
        drifted=[drifted("a.example.test"), drifted("b.example.test", pending="req-user")],
        drifted_count=2,
        unmanaged=[unmanaged],
        unmanaged_count=1,
    )
    stubs = Stubs({"example.test": found})

    summary = await scan(time_skipping_env, stubs, DriftScanInput(["example.test"], policy="heal"))

    [batch] = stubs.started
    assert (batch.policy, [d.domain for d in batch.drifted]) == ("heal", ["a.example.test"])
    assert batch.scan_run_id, "request ids derive from the scan's run"
    assert (summary.drifted, summary.unmanaged, summary.requests_started) == (2, 1, 1)
    [zone] = summary.zones
    assert zone.unmanaged == [unmanaged.describe()]
    assert any(line.startswith("req-user A b.example.test: left to") for line in zone.requests), zone.requests
    assert any(line.startswith("req-a.example.test A a.example.test: started") for line in zone.requests)


async def test_a_zone_that_cannot_be_scanned_is_reported_and_the_others_still_are(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    stubs = Stubs(
        {
            "broken.test": ApplicationError("primary does not answer", non_retryable=True),
            "example.test": ZoneScan("example.test", record_sets=1),
        }
    )

    summary = await scan(time_skipping_env, stubs, DriftScanInput(["broken.test", "example.test"]))

    broken, fine = summary.zones
    assert broken.errors == ["not scanned: primary does not answer"]
    assert (fine.zone, fine.record_sets, fine.errors) == ("example.test", 1, [])
    assert stubs.started == [], "nothing drifted: no request"
