"""Drift on the real stack: a record changed behind dnsorch's back (a TSIG-signed UPDATE by hand on
BIND, which its Knot secondary follows) is healed by the drift schedule within one period, or raised
for an operator whose retry heals it; a record nobody manages is reported and left alone.

The zone `drift.test` and its reverse zone have a BIND primary and a Knot secondary of their own, so
the schedule's scans touch nothing the session's other tests use."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from devstack.bind import BindServer, ensure_tsig_key
from devstack.knot import SECONDARY_HOST, KnotServer
from devstack.temporal import TemporalDevServer
from dnsorch.contracts import DriftScanSummary
from tests.fixtures.bind import BindInfo, require_servers
from tests.fixtures.by_hand import by_hand
from tests.fixtures.dns import served_rrset
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.servers import free_port
from tests.fixtures.waiting import eventually_sync

pytestmark = pytest.mark.e2e
ZONE = "drift.test"
REVERSE = "100.51.198.in-addr.arpa"
"""198.51.100.0/24's PTRs; managed (in DNS_ZONES) only by the test of PTRs."""
PERIOD = 3
"""DRIFT_INTERVAL_SECONDS of the test's worker: "within one period" is a few of these, with the apply."""
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "REJECTED", "NEEDS_ATTENTION"}


@pytest.fixture(scope="module")
def drift_dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BindInfo]:
    """A BIND primary for drift.test and its reverse zone with their Knot secondary; NS RRsets name both."""
    require_servers()
    workdir = tmp_path_factory.mktemp("drift-dns")
    key_file = workdir / "tsig.key"
    ensure_tsig_key(key_file)
    port = free_port(also_on=(SECONDARY_HOST,))
    zones = [ZONE, REVERSE]
    primary = BindServer(workdir, zones, port, key_file, secondaries=[SECONDARY_HOST])
    secondary = KnotServer(workdir / "knot", zones, port, key_file, primary_host=primary.host)
    try:
        primary.start()
        secondary.start()
        yield BindInfo(primary.host, port, key_file, zones, workdir, primary, secondary.host, secondary)
    finally:
        secondary.stop()
        primary.stop()


@pytest.fixture(scope="module")
def schedule_id(temporal_server: TemporalDevServer) -> Iterator[str]:
    """The test's own schedule, deleted afterwards so no scan outlives the test's workers."""
    name = f"e2e-drift-{uuid.uuid4().hex[:8]}"
    yield name

    async def delete() -> None:
        client = await Client.connect(temporal_server.address)
        try:
            await client.get_schedule_handle(name).delete()
        except RPCError as error:  # no worker got as far as creating it
            if error.status != RPCStatusCode.NOT_FOUND:
                raise

    asyncio.run(delete())


def drift_stack(
    stack_env: dict[str, str],
    dns: BindInfo,
    schedule: str,
    policy: str,
    log_dir: Path,
    zones: tuple[str, ...] = (ZONE,),
) -> ProcessStack:
    """An API and a worker for `zones` whose worker creates (or updates) the drift schedule."""
    env = {
        **stack_env,
        "TEMPORAL_TASK_QUEUE": f"{schedule}-queue",
        "API_PORT": str(free_port()),
        "DNS_SERVER": dns.host,
        "DNS_PORT": str(dns.port),
        "DNS_ZONES": ",".join(zones),
        "TSIG_KEY_FILE": str(dns.key_file),
        "DRIFT_SCHEDULE_ID": schedule,
        "DRIFT_INTERVAL_SECONDS": str(PERIOD),
        "DRIFT_POLICY": policy,
    }
    processes = ProcessStack(env, log_dir)
    processes.start("worker")
    processes.start("api")
    return processes


@dataclass(frozen=True)
class At:
    host: str
    port: int


def both_serve(servers: BindInfo, name: str, values: list[str], rtype: str = "A") -> bool:
    """The primary and its secondary both serve exactly `values` at `name`."""
    assert servers.secondary_host is not None
    asked = (At(servers.host, servers.port), At(servers.secondary_host, servers.port))
    return all(served_rrset(server, name, rtype).values == values for server in asked)


def create(stack: ProcessStack, name: str, target: str, rtype: str = "A") -> dict[str, Any]:
    payload = {
        "operation": "create",
        "context": {"account_id": "acct-drift"},
        "resource": {"record_type": rtype, "domain": name, "target": target, "config": {"ttl": 300}},
    }
    answer = stack.http.post("/api/v2/dns/requests", json=payload, timeout=30)
    assert answer.status_code == 202, answer.text
    return stack.wait_for_status(answer.json()["request_id"], FINAL)


def drift_requests(stack: ProcessStack, name: str) -> list[dict[str, Any]]:
    page = stack.http.get("/api/v2/dns/requests", params={"source": "drift", "domain": name}, timeout=10)
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


def scans(address: str, schedule: str) -> list[DriftScanSummary]:
    """The results of the schedule's finished scans, newest first."""

    async def read() -> list[DriftScanSummary]:
        client = await Client.connect(address)
        found = []
        async for run in client.list_workflows(f'TemporalScheduledById = "{schedule}"'):
            if run.status == WorkflowExecutionStatus.COMPLETED:
                handle = client.get_workflow_handle(run.id, run_id=run.run_id, result_type=DriftScanSummary)
                found.append(await handle.result())
        return sorted(found, key=lambda s: s.started_at, reverse=True)

    return asyncio.run(read())


def unmanaged(scan: DriftScanSummary) -> str:
    return "\n".join(line for zone in scan.zones for line in zone.unmanaged)


def test_a_record_changed_by_hand_is_healed_within_one_period_and_an_unmanaged_one_left_alone(
    stack_env: dict[str, str],
    drift_dns: BindInfo,
    schedule_id: str,
    temporal_server: TemporalDevServer,
    tmp_path: Path,
) -> None:
    stack = drift_stack(stack_env, drift_dns, schedule_id, "heal", tmp_path)
    try:
        name, hand = f"web-{uuid.uuid4().hex[:6]}.{ZONE}", f"hand-{uuid.uuid4().hex[:6]}.{ZONE}"
        assert create(stack, name, "192.0.2.10")["status"] == "COMPLETED"

        by_hand(drift_dns, drift_dns.key_file, ZONE, hand, "TXT", ['"nobody manages me"'])
        by_hand(drift_dns, drift_dns.key_file, ZONE, name, "A", ["192.0.2.99"])
        eventually_sync(
            lambda: both_serve(drift_dns, name, ["192.0.2.99"]), timeout=10, what="the change by hand"
        )

        [healing] = eventually_sync(
            lambda: drift_requests(stack, name), timeout=PERIOD * 3, what=f"a drift request for {name}"
        )
        healed = stack.wait_for_status(healing["request_id"], FINAL, timeout=60)
        assert healed["status"] == "COMPLETED", healed
        assert both_serve(drift_dns, name, ["192.0.2.10"]), "both servers serve the recorded value again"
        assert healed["log_messages"][0]["actor"] == "drift"

        reported = eventually_sync(
            lambda: [s for s in scans(temporal_server.address, schedule_id) if hand in unmanaged(s)],
            timeout=PERIOD * 4,
            what=f"a scan reporting {hand} as unmanaged",
        )
        assert reported[0].policy == "heal"
        assert both_serve(drift_dns, hand, ['"nobody manages me"'], "TXT"), "unmanaged: never touched"
        assert drift_requests(stack, hand) == []
    finally:
        stack.stop_all()


def test_raised_drift_waits_for_an_operator_whose_retry_heals_it(
    stack_env: dict[str, str],
    drift_dns: BindInfo,
    schedule_id: str,
    temporal_server: TemporalDevServer,
    engine: Engine,
    tmp_path: Path,
) -> None:
    stack = drift_stack(stack_env, drift_dns, schedule_id, "raise", tmp_path)  # updates the schedule
    try:
        name = f"api-{uuid.uuid4().hex[:6]}.{ZONE}"
        assert create(stack, name, "192.0.2.11")["status"] == "COMPLETED"

        by_hand(drift_dns, drift_dns.key_file, ZONE, name, "A", ["192.0.2.98"])
        [raised] = eventually_sync(
            lambda: drift_requests(stack, name), timeout=PERIOD * 3, what=f"a drift request for {name}"
        )
        held = stack.wait_for_status(raised["request_id"], {"NEEDS_ATTENTION"}, timeout=30)
        reason = held["log_messages"][-1]["message"]
        assert all(part in reason for part in ("drift:", "serves 192.0.2.98", "recorded 192.0.2.11")), reason
        with engine.connect() as conn:
            events = conn.execute(
                text("SELECT status, reason FROM request_events WHERE request_id = :id ORDER BY sequence"),
                {"id": raised["request_id"]},
            ).all()
        assert [status for status, _ in events][-1] == "NEEDS_ATTENTION"
        assert "recorded 192.0.2.11" in events[-1][1], "the events topic gets the difference"
        assert both_serve(drift_dns, name, ["192.0.2.98"]), "raised, not touched"

        # Later scans see the same drift, and leave it to the request already raised.
        raised_at = datetime.fromisoformat(raised["created_at"])
        eventually_sync(
            lambda: [s for s in scans(temporal_server.address, schedule_id) if s.started_at > raised_at],
            timeout=PERIOD * 4,
            what="a scan after the drift was raised",
        )
        assert [r["request_id"] for r in drift_requests(stack, name)] == [raised["request_id"]]

        retried = stack.http.post(
            f"/api/v2/dns/requests/{raised['request_id']}/actions/retry", json={"note": "put it back"}
        )
        assert retried.status_code == 200, retried.text
        assert stack.wait_for_status(raised["request_id"], FINAL, timeout=60)["status"] == "COMPLETED"
        assert both_serve(drift_dns, name, ["192.0.2.11"])
    finally:
        stack.stop_all()


def test_a_kept_ptr_is_no_drift_and_one_changed_by_hand_is_restored_for_its_owner(
    stack_env: dict[str, str],
    drift_dns: BindInfo,
    schedule_id: str,
    temporal_server: TemporalDevServer,
    tmp_path: Path,
) -> None:
    stack = drift_stack(stack_env, drift_dns, schedule_id, "heal", tmp_path, zones=(ZONE, REVERSE))
    try:
        name, host = f"ptr-{uuid.uuid4().hex[:6]}.{ZONE}", random.randrange(1, 255)
        ptr_name = f"{host}.{REVERSE}"
        done = create(stack, name, f"198.51.100.{host}")
        assert done["status"] == "COMPLETED", done["log_messages"]
        assert both_serve(drift_dns, ptr_name, [f"{name}."], "PTR"), "the A's PTR, kept by dnsorch"

        # Scans whose read began after the PTR settled (drift leaves a record set younger than 2 s).
        settled = datetime.fromisoformat(done["updated_at"]).timestamp() + 3
        later = eventually_sync(
            lambda: [
                zone
                for s in scans(temporal_server.address, schedule_id)
                if s.started_at.timestamp() > settled
                for zone in s.zones
                if zone.zone == REVERSE
            ],
            timeout=PERIOD * 5,
            what=f"a scan of {REVERSE} after the PTR settled",
        )
        assert all(zone.errors == [] and zone.record_sets >= 1 for zone in later), later
        assert [zone.drifted for zone in later if zone.drifted_count] == []
        assert drift_requests(stack, ptr_name) == [], "dnsorch's own PTR served as recorded is no drift"

        by_hand(drift_dns, drift_dns.key_file, REVERSE, ptr_name, "PTR", [f"hand.{ZONE}."])
        [healing] = eventually_sync(
            lambda: drift_requests(stack, ptr_name),
            timeout=PERIOD * 3,
            what=f"a drift request for {ptr_name}",
        )
        healed = stack.wait_for_status(healing["request_id"], FINAL, timeout=60)
        assert healed["status"] == "COMPLETED", healed
        assert (healed["record_type"], healed["account_id"]) == ("PTR", "acct-drift"), "its A's owner's"
        assert both_serve(drift_dns, ptr_name, [f"{name}."], "PTR"), "both serve the PTR as kept again"
    finally:
        stack.stop_all()
