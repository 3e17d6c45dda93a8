"""API v2 on the real stack: idempotent creates, update and delete in BIND, NEEDS_ATTENTION → retry,
illegal actions, filters and the operator CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.bind import ensure_tsig_key
from tests.fixtures.api_v2 import body, wait_v2
from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.e2e


def create(stack: ProcessStack, payload: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return stack.http.post("/api/v2/dns/requests", json=payload, headers=headers, timeout=30)


def test_update_and_delete_change_what_bind_answers(stack: ProcessStack, bind_server: Any) -> None:
    created = create(stack, body("life.example.test", "192.0.2.50")).json()
    assert wait_v2(stack, created["request_id"], {"COMPLETED", "NEEDS_ATTENTION"})["status"] == "COMPLETED"
    assert served(bind_server, "life.example.test") == ["192.0.2.50"]

    updated = create(stack, body("life.example.test", "192.0.2.51", operation="update", ttl=600)).json()
    assert updated["operation"] == "update"
    assert wait_v2(stack, updated["request_id"], {"COMPLETED", "NEEDS_ATTENTION"})["status"] == "COMPLETED"
    assert served(bind_server, "life.example.test") == ["192.0.2.51"]
    current = stack.http.get("/api/v2/dns/records", params={"domain": "life.example.test"}).json()
    assert [(r["target"], r["ttl"]) for r in current["items"]] == [("192.0.2.51", 600)]

    deleted = create(stack, body("life.example.test", operation="delete")).json()
    wait_v2(stack, deleted["request_id"], {"PENDING_APPROVAL"})  # a delete is held for an operator
    approve = f"/api/v2/dns/requests/{deleted['request_id']}/actions/approve"
    assert stack.http.post(approve, json={"note": "retire it"}, timeout=30).status_code == 200
    assert wait_v2(stack, deleted["request_id"], {"COMPLETED", "NEEDS_ATTENTION"})["status"] == "COMPLETED"
    assert served(bind_server, "life.example.test") == []
    current = stack.http.get("/api/v2/dns/records", params={"domain": "life.example.test"}).json()
    assert current["items"] == []


def test_idempotency_key_returns_the_same_request_and_refuses_another_body(stack: ProcessStack) -> None:
    key = f"deploy-{uuid.uuid4()}"
    first = create(stack, body("idem.example.test", "192.0.2.60"), key=key)
    again = create(stack, body("idem.example.test", "192.0.2.60"), key=key)
    assert first.status_code == again.status_code == 202
    assert first.json()["request_id"] == again.json()["request_id"]
    other = create(stack, body("idem.example.test", "192.0.2.61"), key=key)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    listed = stack.http.get("/api/v2/dns/requests", params={"domain": "idem.example.test"}).json()
    assert len(listed["items"]) == 1


def test_actions_illegal_in_the_current_state_are_refused_with_409(stack: ProcessStack) -> None:
    created = create(stack, body("illegal.example.test", "192.0.2.62")).json()
    wait_v2(stack, created["request_id"], {"COMPLETED"})
    url = f"/api/v2/dns/requests/{created['request_id']}"
    refused = stack.http.post(f"{url}/actions/approve", json={"note": "late"}, timeout=30)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] in {"request_finished", "illegal_transition"}
    refused = stack.http.post(f"{url}/status", json={"status": "IN_PROGRESS", "message": "again"}, timeout=30)
    assert refused.status_code == 409
    assert stack.http.post(f"{url}/actions/launch", json={}, timeout=10).status_code == 422
    after = stack.http.get(url, timeout=10).json()
    assert after["status"] == "COMPLETED"
    assert not any("again" in entry["message"] for entry in after["timeline"])


def test_list_filters_and_cursor_pages(stack: ProcessStack) -> None:
    account = f"acct-page-{uuid.uuid4().hex[:6]}"
    ids = set()
    for i in range(5):
        payload = body(f"p{i}.example.test", f"192.0.2.{70 + i}")
        payload["context"]["account_id"] = account
        ids.add(create(stack, payload).json()["request_id"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"account_id": account, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = stack.http.get("/api/v2/dns/requests", params=params, timeout=10).json()
        seen += [item["request_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    bad = stack.http.get("/api/v2/dns/requests", params={"cursor": "nonsense!"}, timeout=10)
    assert bad.status_code == 422


def test_refused_change_waits_for_an_operator_then_retry_completes(
    stack_env: dict[str, str], bind_server: Any, tmp_path: Path
) -> None:
    """BIND refuses the worker's key (NEEDS_ATTENTION); the key is fixed; `retry` via the CLI completes it."""
    wrong_key = tmp_path / "wrong.key"
    ensure_tsig_key(wrong_key)
    env = {**stack_env, "TEMPORAL_TASK_QUEUE": f"e2e-attention-{tmp_path.name}", "API_PORT": str(free_port())}
    processes = ProcessStack(env, tmp_path)
    try:
        processes.start("worker", TSIG_KEY_FILE=str(wrong_key))
        processes.start("api")
        created = create(processes, body("attention.example.test", "192.0.2.80")).json()
        stuck = wait_v2(processes, created["request_id"], {"NEEDS_ATTENTION", "COMPLETED"})
        assert stuck["status"] == "NEEDS_ATTENTION"
        assert any("TSIG" in entry["message"] for entry in stuck["timeline"])
        assert served(bind_server, "attention.example.test") == []

        listed = cli(processes, "list", "--status", "needs_attention", "--json")
        assert created["request_id"] in [i["request_id"] for i in json.loads(listed)["items"]]

        processes.stop_all()  # the operator fixes the worker's key and restarts it
        processes.start("worker")
        processes.start("api")
        cli(processes, "retry", created["request_id"], "--note", "key rotated")
        done = wait_v2(processes, created["request_id"], {"COMPLETED", "NEEDS_ATTENTION"}, timeout=120)
        assert done["status"] == "COMPLETED"
        assert served(bind_server, "attention.example.test") == ["192.0.2.80"]
        retry = [e for e in done["timeline"] if "key rotated" in e["message"]]
        assert retry and retry[0]["actor"] == "e2e-admin (admin)"
    finally:
        processes.stop_all()


def cli(stack: ProcessStack, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "dnsorch.cli", "requests", "--api", stack.api_url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DNSORCH_API_KEY": stack.api_key or ""},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout
