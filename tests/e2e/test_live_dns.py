"""Live DNS on the real stack (BIND primary, Knot DNS secondary): a change counts once both serve it,
a lagging secondary is named, a change not served everywhere is rolled back, A records keep their
PTRs, and risky changes wait for an approval that has a deadline."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.fixtures.bind import REVERSE_ZONE, BindInfo, wait_until_secondary_serves_primary
from tests.fixtures.by_hand import by_hand
from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.servers import free_port
from tests.fixtures.waiting import eventually_sync

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-live"
PROPAGATION_TIMEOUT = 4
APPROVAL_TIMEOUT = 6


@dataclass(frozen=True)
class Server:
    host: str
    port: int


@dataclass
class LiveStack:
    """One worker; an API whose requests ask an operator when a server lags, and one whose requests
    roll back (the policy is fixed when a request is accepted)."""

    attention: ProcessStack
    rollback: ProcessStack
    primary: Server
    secondary: Server


@pytest.fixture(scope="module")
def live(
    stack_env: dict[str, str], bind_server: BindInfo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    assert bind_server.secondary is not None and bind_server.secondary_host is not None
    env = {
        **stack_env,
        "TEMPORAL_TASK_QUEUE": f"e2e-live-{uuid.uuid4().hex[:8]}",
        "API_PORT": str(free_port()),
        "DNS_ZONES": f"{bind_server.zones[0]},{REVERSE_ZONE}",
        "DNS_PROPAGATION_TIMEOUT_SECONDS": str(PROPAGATION_TIMEOUT),
        "DNS_PROPAGATION_INTERVAL_SECONDS": "0.5",
        "APPROVAL_RISKS": "delete,dangling_target",
        "APPROVAL_TIMEOUT_SECONDS": str(APPROVAL_TIMEOUT),
    }
    logs = tmp_path_factory.mktemp("e2e-live")
    attention = ProcessStack(env, logs)
    rollback = ProcessStack({**env, "API_PORT": str(free_port()), "DNS_VERIFY_FAILURE": "rollback"}, logs)
    try:
        attention.start("worker")
        attention.start("api")
        rollback.start("api", name="api-rollback")
        yield LiveStack(
            attention,
            rollback,
            Server(bind_server.host, bind_server.port),
            Server(bind_server.secondary_host, bind_server.port),
        )
    finally:
        rollback.stop_all()
        attention.stop_all()


def request(
    stack: ProcessStack, domain: str, target: str = "", operation: str = "create", record_type: str = "A"
) -> str:
    payload = {
        "operation": operation,
        "context": {"account_id": ACCOUNT},
        "resource": {"record_type": record_type, "domain": domain, "target": target, "config": {"ttl": 300}},
    }
    response = stack.http.post("/api/v2/dns/requests", json=payload, timeout=30)
    assert response.status_code == 202, response.text
    return str(response.json()["request_id"])


def wait_for(stack: ProcessStack, request_id: str, *wanted: str, timeout: float = 60) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        return dict(stack.http.get(f"/api/v2/dns/requests/{request_id}", timeout=10).json())

    return eventually_sync(
        read, lambda seen: seen["status"] in wanted, timeout=timeout, what=f"{request_id} {wanted}"
    )


def act(stack: ProcessStack, request_id: str, action: str) -> httpx.Response:
    return stack.http.post(
        f"/api/v2/dns/requests/{request_id}/actions/{action}", json={"note": "e2e"}, timeout=60
    )


def messages(detail: dict[str, Any]) -> list[str]:
    return [str(entry["message"]) for entry in detail["timeline"]]


def name() -> str:
    return f"live-{uuid.uuid4().hex[:8]}.example.test"


def test_a_change_counts_once_both_servers_serve_it_and_its_ptr_follows(live: LiveStack) -> None:
    domain = name()
    done = wait_for(
        live.attention, request(live.attention, domain, "192.0.2.77"), "COMPLETED", "NEEDS_ATTENTION"
    )
    assert done["status"] == "COMPLETED", messages(done)
    assert any(
        m.endswith("provisioning started (approval policy: routine change: no approval needed)")
        for m in messages(done)
    )
    assert set(done["propagation"]) == {"ns1.example.test (127.0.0.1)", "ns2.example.test (127.0.0.2)"}
    verified = next(m for m in messages(done) if m.startswith("served by every authoritative server"))
    assert (
        "ns1.example.test (127.0.0.1) after" in verified and "ns2.example.test (127.0.0.2) after" in verified
    )
    for server in (live.primary, live.secondary):
        assert served(server, domain) == ["192.0.2.77"]
        assert served(server, "77.2.0.192.in-addr.arpa", "PTR") == [f"{domain}."]

    # A delete is risky: it waits for approval, and once approved it takes the PTR with it.
    delete = request(live.attention, domain, operation="delete")
    waiting = wait_for(live.attention, delete, "PENDING_APPROVAL", "COMPLETED")
    assert waiting["status"] == "PENDING_APPROVAL" and any("a delete" in m for m in messages(waiting))
    assert act(live.attention, delete, "approve").status_code == 200
    assert wait_for(live.attention, delete, "COMPLETED", "NEEDS_ATTENTION")["status"] == "COMPLETED"
    for server in (live.primary, live.secondary):
        assert served(server, domain) == []
        assert served(server, "77.2.0.192.in-addr.arpa", "PTR") == []


def test_a_risky_change_nobody_approves_is_rejected_at_its_deadline(live: LiveStack) -> None:
    domain = name()
    assert wait_for(live.attention, request(live.attention, domain, "192.0.2.78"), "COMPLETED")
    delete = request(live.attention, domain, operation="delete")
    rejected = wait_for(live.attention, delete, "REJECTED", "COMPLETED", timeout=APPROVAL_TIMEOUT + 30)
    assert rejected["status"] == "REJECTED"
    assert messages(rejected)[-1].endswith(f"no approval in time ({APPROVAL_TIMEOUT} s)")
    assert served(live.primary, domain) == ["192.0.2.78"]


def test_a_stopped_secondary_is_named_and_a_retry_completes_once_it_is_back(
    live: LiveStack, bind_server: BindInfo
) -> None:
    assert bind_server.secondary is not None
    domain = name()
    bind_server.secondary.stop()
    try:
        request_id = request(live.attention, domain, "192.0.2.79")
        stuck = wait_for(live.attention, request_id, "NEEDS_ATTENTION", "COMPLETED")
        assert stuck["status"] == "NEEDS_ATTENTION"
        assert (
            "not served everywhere" in messages(stuck)[-1]
            and "ns2.example.test (127.0.0.2)" in messages(stuck)[-1]
        )
        assert "ns1.example.test" not in messages(stuck)[-1]
    finally:
        bind_server.secondary.start()
    wait_until_secondary_serves_primary(bind_server)
    assert act(live.attention, request_id, "retry").status_code == 200
    done = wait_for(live.attention, request_id, "COMPLETED", "NEEDS_ATTENTION")
    assert done["status"] == "COMPLETED"
    verified = [m for m in messages(done) if m.startswith("served by every authoritative server")]
    assert verified and "ns2.example.test (127.0.0.2) after" in verified[-1]


def test_a_resolve_is_refused_while_the_primary_does_not_serve_the_change(
    live: LiveStack, bind_server: BindInfo
) -> None:
    """A resolve records the change in dns_records, so it asks the primary first: a change someone
    removed by hand is not resolved until DNS serves it again (found by the soak, SEED=11)."""
    assert bind_server.secondary is not None
    domain = name()
    bind_server.secondary.stop()
    try:
        request_id = request(live.attention, domain, "192.0.2.83")
        assert (
            wait_for(live.attention, request_id, "NEEDS_ATTENTION", "COMPLETED")["status"]
            == "NEEDS_ATTENTION"
        )
    finally:
        bind_server.secondary.start()
    zone = bind_server.zones[0]
    by_hand(bind_server, bind_server.key_file, zone, domain, "A", [])  # someone removes it
    refused = act(live.attention, request_id, "resolve")
    assert refused.status_code == 409, refused.text
    assert "the primary does not serve the change" in refused.json()["error"]["message"]
    assert wait_for(live.attention, request_id, "NEEDS_ATTENTION")["status"] == "NEEDS_ATTENTION"
    records = live.attention.http.get("/api/v2/dns/records", params={"domain": domain}).json()["items"]
    assert records == []

    by_hand(bind_server, bind_server.key_file, zone, domain, "A", ["192.0.2.83"])  # fixed by hand
    assert act(live.attention, request_id, "resolve").status_code == 200
    assert wait_for(live.attention, request_id, "COMPLETED")["status"] == "COMPLETED"
    records = live.attention.http.get("/api/v2/dns/records", params={"domain": domain}).json()["items"]
    assert [r["target"] for r in records] == ["192.0.2.83"]
    assert served(live.primary, domain) == ["192.0.2.83"]


def test_a_change_a_secondary_never_serves_is_rolled_back(live: LiveStack, bind_server: BindInfo) -> None:
    assert bind_server.secondary is not None
    domain = name()
    assert wait_for(live.rollback, request(live.rollback, domain, "192.0.2.80"), "COMPLETED")
    wait_until_secondary_serves_primary(bind_server)
    bind_server.secondary.freeze(bind_server.zones[0])  # it keeps serving the old value
    try:
        update = request(live.rollback, domain, "192.0.2.81", operation="update")
        undone = wait_for(live.rollback, update, "ROLLED_BACK", "COMPLETED", "NEEDS_ATTENTION")
    finally:
        bind_server.secondary.thaw(bind_server.zones[0])
    assert undone["status"] == "ROLLED_BACK", messages(undone)
    assert "rolled back: not served everywhere" in messages(undone)[-1]
    assert served(live.primary, domain) == ["192.0.2.80"]
    record = live.rollback.http.get("/api/v2/dns/records", params={"domain": domain}).json()["items"]
    assert [r["target"] for r in record] == ["192.0.2.80"]  # dnsorch's record never changed


def test_a_cancel_while_the_primary_is_paused_decides_only_once_it_answers(
    live: LiveStack, bind_server: BindInfo
) -> None:
    """Issue 22, item 5: BIND paused (SIGSTOP) while a create's UPDATE is in flight; a cancel cannot
    learn what it did, so it claims nothing (NEEDS_ATTENTION); once BIND is resumed, a cancel asks
    again and the final status agrees with DNS and with dnsorch's records."""
    pid = bind_server.server.pid
    assert pid is not None
    domain = name()
    request_id = request(live.attention, domain, "192.0.2.82")
    eventually_sync(
        lambda: messages(wait_for(live.attention, request_id, "IN_PROGRESS", "COMPLETED")),
        lambda seen: any(m.startswith("plan:") for m in seen),
        timeout=60,
        what="the plan",
    )
    os.kill(pid, signal.SIGSTOP)  # the playbook starts after the plan: its UPDATE waits in BIND
    try:
        time.sleep(5)
        paused = act(live.attention, request_id, "cancel")
        assert paused.status_code == 200, paused.text
        waiting = wait_for(live.attention, request_id, "NEEDS_ATTENTION", "CANCELLED", "COMPLETED")
        assert waiting["status"] == "NEEDS_ATTENTION", messages(waiting)
        assert "could not be asked" in messages(waiting)[-1]
    finally:
        os.kill(pid, signal.SIGCONT)
    time.sleep(2)  # BIND applies the UPDATE it held, if it still has it
    assert act(live.attention, request_id, "cancel").status_code == 200
    ended = wait_for(live.attention, request_id, "CANCELLED", "COMPLETED", "NEEDS_ATTENTION")
    records = live.attention.http.get("/api/v2/dns/records", params={"domain": domain}).json()["items"]
    if ended["status"] == "CANCELLED":
        assert served(live.primary, domain) == [], messages(ended)
        assert records == []
    else:  # completed as "came too late": served and recorded
        assert ended["status"] == "COMPLETED", messages(ended)
        assert served(live.primary, domain) == ["192.0.2.82"]
        assert [r["target"] for r in records] == ["192.0.2.82"]


def test_an_address_whose_ptr_was_made_by_hand_is_refused_and_nothing_is_applied(
    live: LiveStack, bind_server: BindInfo
) -> None:
    domain, ptr_name = name(), "231.2.0.192.in-addr.arpa"
    by_hand(bind_server, bind_server.key_file, REVERSE_ZONE, ptr_name, "PTR", ["printer.elsewhere.test."])
    try:
        refused = wait_for(
            live.attention, request(live.attention, domain, "192.0.2.231"), "REJECTED", "COMPLETED"
        )
        assert refused["status"] == "REJECTED"
        assert "which dnsorch does not keep: dnsorch will not overwrite it" in messages(refused)[-1]
        for server in (live.primary, live.secondary):
            assert served(server, domain) == []
        assert served(live.primary, ptr_name, "PTR") == ["printer.elsewhere.test."]
    finally:
        by_hand(bind_server, bind_server.key_file, REVERSE_ZONE, ptr_name, "PTR", [])


def test_a_cname_whose_target_does_not_resolve_waits_for_approval_then_is_served(live: LiveStack) -> None:
    alias, target = name(), f"{name()}."
    held = wait_for(
        live.attention,
        request(live.attention, alias, target, record_type="CNAME"),
        "PENDING_APPROVAL",
        "COMPLETED",
    )
    assert held["status"] == "PENDING_APPROVAL"
    assert messages(held)[-1].endswith(
        f"waiting for an operator's approval: the target {target} does not resolve"
    )
    assert served(live.primary, alias, "CNAME") == []
    assert act(live.attention, held["request_id"], "approve").status_code == 200
    assert (
        wait_for(live.attention, held["request_id"], "COMPLETED", "NEEDS_ATTENTION")["status"] == "COMPLETED"
    )
    assert served(live.primary, alias, "CNAME") == [target]
