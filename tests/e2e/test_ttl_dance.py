"""The TTL dance on the real stack (issue 26; BIND primary, Knot DNS secondary): an update with
`ttl_dance` lowers the served TTL on both servers, waits out the old TTL, moves the record and ends
COMPLETED with the new value and the request's TTL on both; a cancel during the wait leaves the old
value with the old TTL on both; a wait that ends while no worker runs is finished by the next worker;
a create that asks to dance is a 422 naming the field."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client

from devstack.temporal import TemporalDevServer
from dnsorch.contracts import workflow_id_for
from tests.fixtures.api_v2 import FINAL, body, post_v2, wait_v2
from tests.fixtures.bind import BindInfo
from tests.fixtures.dns import Served, served_rrset
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.servers import free_port
from tests.fixtures.waiting import eventually_sync

pytestmark = pytest.mark.e2e
SHORT_TTL = 1


@pytest.fixture(scope="module")
def dancing(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessStack]:
    """An API and worker of their own whose dances serve TTL 1 while a record moves."""
    env = {
        **stack_env,
        "TEMPORAL_TASK_QUEUE": f"e2e-ttl-{uuid.uuid4().hex[:8]}",
        "API_PORT": str(free_port()),
        "TTL_DANCE_SHORT_TTL": str(SHORT_TTL),
        "APPROVAL_TTL_FLOOR": "1",  # the small TTLs below are no risk here
        "DNS_PROPAGATION_INTERVAL_SECONDS": "0.5",
    }
    processes = ProcessStack(env, tmp_path_factory.mktemp("e2e-ttl"))
    try:
        processes.start("worker")
        processes.start("api")
        yield processes
    finally:
        processes.stop_all()


def servers(bind_server: BindInfo) -> list[Any]:
    assert bind_server.secondary is not None
    return [bind_server, bind_server.secondary]


def both_serve(bind_server: BindInfo, domain: str) -> list[Served]:
    return [served_rrset(server, domain) for server in servers(bind_server)]


def create(stack: ProcessStack, domain: str, target: str, ttl: int) -> None:
    accepted = post_v2(stack, body(domain, target, ttl=ttl))
    assert accepted.status_code == 202, accepted.text
    done = wait_v2(stack, accepted.json()["request_id"], FINAL)
    assert done["status"] == "COMPLETED", done["timeline"]


def dance(stack: ProcessStack, domain: str, target: str, ttl: int) -> str:
    accepted = post_v2(stack, {**body(domain, target, operation="update", ttl=ttl), "ttl_dance": True})
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["request_id"])


def status_of(stack: ProcessStack, request_id: str) -> dict[str, Any]:
    return dict(stack.http.get(f"/api/v2/dns/requests/{request_id}", timeout=10).json())


def dance_lines(detail: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry for entry in detail["timeline"] if entry["step"] == "ttl-dance"]


def test_a_dancing_update_ends_with_the_new_value_and_its_ttl_on_both_servers(
    dancing: ProcessStack, bind_server: BindInfo
) -> None:
    domain, old_ttl = f"dance-{uuid.uuid4().hex[:6]}.example.test", 4
    create(dancing, domain, "192.0.2.90", old_ttl)
    assert [(s.values, s.ttl) for s in both_serve(bind_server, domain)] == [(["192.0.2.90"], old_ttl)] * 2
    request_id = dance(dancing, domain, "192.0.2.91", ttl=3)

    seen: set[tuple[int, str, int | None]] = set()  # (server, value, TTL) as served while it dances
    deadline = time.monotonic() + 90
    while (detail := status_of(dancing, request_id))["status"] not in FINAL and time.monotonic() < deadline:
        for index, answer in enumerate(both_serve(bind_server, domain)):
            seen |= {(index, value, answer.ttl) for value in answer.values}
        time.sleep(0.1)

    assert detail["status"] == "COMPLETED", detail["timeline"]
    assert [(s.values, s.ttl) for s in both_serve(bind_server, domain)] == [(["192.0.2.91"], 3)] * 2
    assert {(0, "192.0.2.90", SHORT_TTL), (1, "192.0.2.90", SHORT_TTL)} <= seen, (
        f"the old value was never served with the short TTL on both servers: {sorted(seen)}"
    )
    lines = dance_lines(detail)
    assert [line["message"][:13] for line in lines[:5]] == [f"TTL dance {n}/5" for n in range(1, 6)]
    waited = datetime.fromisoformat(lines[2]["at"]) - datetime.fromisoformat(lines[1]["at"])
    assert waited >= timedelta(seconds=old_ttl), f"waited {waited}, not the old TTL ({old_ttl} s)"
    assert detail["plan"]["ttl_dance"][0] == f"lower the TTL {old_ttl} → {SHORT_TTL} and verify it everywhere"
    records = dancing.http.get("/api/v2/dns/records", params={"domain": domain}, timeout=10).json()["items"]
    assert [(r["target"], r["ttl"]) for r in records] == [("192.0.2.91", 3)], (
        "dns_records says what DNS serves"
    )


def test_a_cancel_during_the_wait_leaves_the_old_value_with_its_old_ttl_on_both_servers(
    dancing: ProcessStack, bind_server: BindInfo
) -> None:
    domain, old_ttl = f"dance-{uuid.uuid4().hex[:6]}.example.test", 120
    create(dancing, domain, "192.0.2.92", old_ttl)
    request_id = dance(dancing, domain, "192.0.2.93", ttl=300)
    until_waiting(dancing, request_id)
    assert [(s.values, s.ttl) for s in both_serve(bind_server, domain)] == [(["192.0.2.92"], SHORT_TTL)] * 2

    cancelled = dancing.http.post(
        f"/api/v2/dns/requests/{request_id}/actions/cancel", json={"note": "not today"}, timeout=60
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED", cancelled.text
    detail = wait_v2(dancing, request_id, {"CANCELLED"})
    assert "restored 192.0.2.92 at TTL 120" in detail["timeline"][-1]["message"]
    assert [(s.values, s.ttl) for s in both_serve(bind_server, domain)] == [(["192.0.2.92"], old_ttl)] * 2


def test_a_wait_that_ends_while_no_worker_runs_is_finished_by_the_next_worker(
    dancing: ProcessStack, bind_server: BindInfo, temporal_server: TemporalDevServer
) -> None:
    domain, old_ttl = f"dance-{uuid.uuid4().hex[:6]}.example.test", 3
    create(dancing, domain, "192.0.2.95", old_ttl)
    request_id = dance(dancing, domain, "192.0.2.96", ttl=30)
    until_waiting(dancing, request_id)
    dancing.kill("worker")
    eventually_sync(
        lambda: asyncio.run(timer_fired(temporal_server.address, workflow_id_for(request_id))),
        lambda fired: fired,
        timeout=60,
        what="the wait's timer fired in Temporal, with no worker running",
    )
    assert [(s.values, s.ttl) for s in both_serve(bind_server, domain)] == [(["192.0.2.95"], SHORT_TTL)] * 2

    dancing.start("worker", name="worker-2")
    detail = wait_v2(dancing, request_id, FINAL)
    assert detail["status"] == "COMPLETED", detail["timeline"]
    assert [(s.values, s.ttl) for s in both_serve(bind_server, domain)] == [(["192.0.2.96"], 30)] * 2
    assert sum("TTL dance 2/5" in line["message"] for line in dance_lines(detail)) == 1, "waited twice"


async def timer_fired(address: str, workflow_id: str) -> bool:
    client = await Client.connect(address)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return any(event.HasField("timer_fired_event_attributes") for event in history.events)


def until_waiting(stack: ProcessStack, request_id: str) -> None:
    eventually_sync(
        lambda: dance_lines(status_of(stack, request_id)),
        lambda lines: any("TTL dance 2/5" in line["message"] for line in lines),
        timeout=60,
        what=f"{request_id} waits out the old TTL",
    )


def test_a_create_that_asks_to_dance_is_refused_naming_the_field(dancing: ProcessStack) -> None:
    refused = post_v2(
        dancing, {**body(f"dance-{uuid.uuid4().hex[:6]}.example.test", "192.0.2.94"), "ttl_dance": True}
    )
    assert refused.status_code == 422, refused.text
    assert "ttl_dance" in refused.text
