"""REST → Temporal → PostgreSQL → Ansible → BIND, all real, as separate processes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psutil
import pytest
from sqlalchemy import Engine, text

from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.waiting import eventually_sync

pytestmark = pytest.mark.e2e


def create_body(domain: str, target: str, record_type: str = "A", **config: Any) -> dict[str, Any]:
    return {
        "context": {"account_id": "acct-42", "source": "api"},
        "resource": {
            "record_type": record_type,
            "domain": domain,
            "target": target,
            "comment": "e2e",
            "config": {"ttl": 300, "priority": None, "extra_config": {}, **config},
        },
    }


def post_create(stack: ProcessStack, body: dict[str, Any]) -> dict[str, Any]:
    response = stack.http.post("/api/v1/dns/create", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_created_record_is_served_by_bind_and_reported_completed(
    stack: ProcessStack, bind_server: Any
) -> None:
    started = time.monotonic()
    accepted = post_create(stack, create_body("www.example.test", "192.0.2.10"))
    assert accepted["status"] == "PENDING"
    assert accepted["workflow_id"] == f"dns-request-{accepted['request_id']}"

    done = stack.wait_for_status(accepted["request_id"], {"COMPLETED", "FAILED"})
    print(f"POST → COMPLETED in {time.monotonic() - started:.2f}s")
    assert done["status"] == "COMPLETED", done["log_messages"]
    statuses = [entry.get("status") for entry in done["log_messages"] if entry.get("status")]
    assert statuses == ["PENDING", "IN_PROGRESS", "COMPLETED"]
    assert all(entry["at"] for entry in done["log_messages"])
    assert done["record"]["target"] == "192.0.2.10"
    assert served(bind_server, "www.example.test") == ["192.0.2.10"]


def test_status_update_on_a_finished_request_is_refused_with_409(stack: ProcessStack) -> None:
    accepted = post_create(stack, create_body("finished.example.test", "192.0.2.11"))
    stack.wait_for_status(accepted["request_id"], {"COMPLETED", "FAILED"})
    response = stack.http.post(
        f"/api/v1/dns/update_status/{accepted['request_id']}",
        json={"status": "FAILED", "message": "too late"},
        timeout=10,
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "request_finished"
    after = stack.http.get(f"/api/v1/dns/{accepted['request_id']}", timeout=10).json()
    assert after["status"] == "COMPLETED"


def test_unknown_request_is_404_and_bad_input_is_422_with_a_reason(stack: ProcessStack) -> None:
    missing = uuid.uuid4()
    assert stack.http.get(f"/api/v1/dns/{missing}", timeout=10).status_code == 404
    update = stack.http.post(f"/api/v1/dns/update_status/{missing}", json={"status": "FAILED"}, timeout=10)
    assert update.status_code == 404
    refused = stack.http.post(
        "/api/v1/dns/create",
        json=create_body("www.example.org", "192.0.2.1"),
        timeout=10,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "resource.domain"
    refused = stack.http.post(
        "/api/v1/dns/create",
        json=create_body("www.example.test", "not-an-ip"),
        timeout=10,
    )
    assert refused.status_code == 422
    assert "IPv4" in refused.json()["error"]["message"]


def test_health_and_readiness(stack: ProcessStack) -> None:
    assert stack.http.get("/healthz", timeout=5).status_code == 200
    ready = stack.http.get("/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"postgresql": "ok", "temporal": "ok"}
    assert stack.http.get("/docs", timeout=5).status_code == 200


def _ansible_running_under(pid: int) -> bool:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    return any("ansible-playbook" in " ".join(child.cmdline()) for child in children if child.is_running())


def wait_for_playbook(worker_pid: int) -> None:
    eventually_sync(
        lambda: _ansible_running_under(worker_pid), timeout=60, interval=0.1, what="the playbook started"
    )


def test_worker_killed_during_the_ansible_step_still_completes_once(
    slow_stack: ProcessStack, bind_server: Any, engine: Engine
) -> None:
    """SIGKILL the worker while its playbook runs; a new worker finishes the request exactly once."""
    accepted = post_create(slow_stack, create_body("crash.example.test", "192.0.2.77"))
    wait_for_playbook(slow_stack.procs["worker"].pid)
    slow_stack.kill("worker")
    assert served(bind_server, "crash.example.test") == []

    slow_stack.start("worker", name="worker-2")
    done = slow_stack.wait_for_status(accepted["request_id"], {"COMPLETED", "FAILED"}, timeout=120)
    assert done["status"] == "COMPLETED", done["log_messages"]
    assert served(bind_server, "crash.example.test") == ["192.0.2.77"]
    with engine.connect() as conn:
        records = conn.execute(
            text("SELECT count(*) FROM dns_records WHERE request_id = :id"), {"id": accepted["request_id"]}
        ).scalar_one()
    assert records == 1
    completed = [e for e in done["log_messages"] if e.get("status") == "COMPLETED"]
    assert len(completed) == 1


def test_manual_failed_status_stops_a_running_request(slow_stack: ProcessStack, bind_server: Any) -> None:
    """update_status reaches the running workflow: it records the change and kills the playbook."""
    accepted = post_create(slow_stack, create_body("stopped.example.test", "192.0.2.78"))
    wait_for_playbook(slow_stack.procs["worker"].pid)
    response = slow_stack.http.post(
        f"/api/v1/dns/update_status/{accepted['request_id']}",
        json={"status": "FAILED", "message": "wrong address, cancelling"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    done = slow_stack.wait_for_status(accepted["request_id"], {"FAILED", "COMPLETED"}, timeout=60)
    assert done["status"] == "FAILED"
    manual = [e for e in done["log_messages"] if e.get("actor") == "e2e-admin (admin)"]
    assert len(manual) == 1 and "wrong address, cancelling" in manual[0]["message"]
    assert done["record"] is None
    eventually_sync(
        lambda: _ansible_running_under(slow_stack.procs["worker"].pid),
        lambda running: not running,
        timeout=15,
        what="the playbook killed",
    )
    assert served(bind_server, "stopped.example.test") == []
