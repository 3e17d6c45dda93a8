"""API keys on the real API: 401 without a valid key, roles, account isolation, revocation, limits."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from dnsorch.store import keys
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.servers import free_port
from tests.fixtures.waiting import eventually_sync

pytestmark = pytest.mark.e2e
OPEN_PATHS = ["/docs", "/openapi.json", "/healthz", "/readyz", "/metrics"]


def v2_body(account: str, domain: str) -> dict[str, Any]:
    return {
        "operation": "create",
        "context": {"account_id": account},
        "resource": {"record_type": "A", "domain": domain, "target": "192.0.2.60"},
    }


@pytest.fixture(scope="module")
def team_keys(engine: Engine) -> dict[str, str]:
    return {
        "red": keys.create_key(engine, "acct-red", "submitter", "red-ci")[1],
        "blue": keys.create_key(engine, "acct-blue", "submitter", "blue-ci")[1],
        "ops": keys.create_key(engine, "acct-ops", "operator", "alice")[1],
    }


@pytest.fixture(scope="module")
def clients(stack: ProcessStack, team_keys: dict[str, str]) -> Iterator[dict[str, httpx.Client]]:
    opened = {name: stack.client(key) for name, key in team_keys.items()}
    opened["anonymous"] = stack.client(None)
    yield opened
    for client in opened.values():
        client.close()


def test_every_api_route_answers_401_without_a_key_and_the_open_paths_stay_open(
    clients: dict[str, httpx.Client],
) -> None:
    anonymous = clients["anonymous"]
    spec = anonymous.get("/openapi.json").json()
    some_id = str(uuid.uuid4())
    checked = 0
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        url = path.replace("{request_id}", some_id).replace("{action}", "approve")
        for method in operations:
            response = anonymous.request(method.upper(), url, json={})
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.json()["error"]["code"] == "unauthenticated"
            checked += 1
    assert checked >= 9
    for path in OPEN_PATHS:
        assert anonymous.get(path).status_code == 200, path


def test_a_malformed_or_unknown_key_is_401_and_not_echoed(stack: ProcessStack) -> None:
    forged = f"{stack.api_key}x"
    for key in ["not-a-key", forged, f"dnsorch_000000000000_{'A' * 43}"]:
        with stack.client(key) as client:
            response = client.get("/api/v2/dns/requests")
        assert response.status_code == 401
        assert key not in response.text


def test_a_submitter_sees_and_touches_only_its_own_account(clients: dict[str, httpx.Client]) -> None:
    red, blue, ops = clients["red"], clients["blue"], clients["ops"]
    mine = red.post("/api/v2/dns/requests", json=v2_body("acct-red", "red-1.example.test"))
    assert mine.status_code == 202, mine.text
    red_id = mine.json()["request_id"]
    v1 = red.post(
        "/api/v1/dns/create",
        json={
            "context": {"account_id": "acct-red"},
            "resource": {"record_type": "A", "domain": "red-2.example.test", "target": "192.0.2.61"},
        },
    )
    assert v1.status_code == 200, v1.text

    # Another account's request looks exactly like one that does not exist.
    unknown = blue.get(f"/api/v2/dns/requests/{uuid.uuid4()}")
    for path in (f"/api/v2/dns/requests/{red_id}", f"/api/v1/dns/{red_id}"):
        hidden = blue.get(path)
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"
    assert red.get(f"/api/v2/dns/requests/{red_id}").status_code == 200

    # A body naming another account is refused; so is acting as an operator.
    foreign = blue.post("/api/v2/dns/requests", json=v2_body("acct-red", "blue-as-red.example.test"))
    assert foreign.status_code == 403
    assert "acct-blue" in foreign.json()["error"]["message"]
    refused = red.post(f"/api/v2/dns/requests/{red_id}/actions/cancel", json={"note": "mine"})
    assert refused.status_code == 403
    assert red.post(f"/api/v1/dns/update_status/{red_id}", json={"status": "FAILED"}).status_code == 403

    # Lists are scoped: whatever account a submitter asks for, it gets its own or nothing.
    for client, account in ((red, "acct-red"), (blue, "acct-blue")):
        listed = client.get("/api/v2/dns/requests").json()["items"]
        assert {item["account_id"] for item in listed} <= {account}
        records = client.get("/api/v2/dns/records").json()["items"]
        assert {item["account_id"] for item in records} <= {account}
    assert blue.get("/api/v2/dns/requests", params={"account_id": "acct-red"}).json()["items"] == []
    assert red_id in [i["request_id"] for i in red.get("/api/v2/dns/requests").json()["items"]]

    # An operator sees every account and may act on any request, by name in the timeline.
    assert ops.get(f"/api/v2/dns/requests/{red_id}").status_code == 200
    by_ops = ops.post("/api/v2/dns/requests", json=v2_body("acct-blue", "ops-for-blue.example.test"))
    assert by_ops.status_code == 202
    cancel = ops.post(f"/api/v2/dns/requests/{by_ops.json()['request_id']}/actions/cancel", json={})
    if cancel.status_code == 200:  # it may already be COMPLETED (409): the refusal is tested elsewhere
        timeline = ops.get(f"/api/v2/dns/requests/{by_ops.json()['request_id']}").json()["timeline"]
        assert "alice (operator)" in {entry.get("actor") for entry in timeline}
    else:
        assert cancel.status_code == 409


def test_idempotency_keys_are_scoped_per_account(clients: dict[str, httpx.Client]) -> None:
    """Two teams may use the same Idempotency-Key: neither gets the other's request."""
    key = {"Idempotency-Key": f"deploy-{uuid.uuid4()}"}
    red = clients["red"].post(
        "/api/v2/dns/requests", json=v2_body("acct-red", "idem-red.example.test"), headers=key
    )
    blue = clients["blue"].post(
        "/api/v2/dns/requests", json=v2_body("acct-blue", "idem-blue.example.test"), headers=key
    )
    assert red.status_code == blue.status_code == 202
    assert red.json()["request_id"] != blue.json()["request_id"]


def run_keys_cli(stack: ProcessStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dnsorch.cli", "keys", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **stack.env},
    )


def test_keys_cli_creates_lists_and_revokes_and_a_revoked_key_is_refused_within_the_cache_time(
    stack: ProcessStack, engine: Engine
) -> None:
    created = run_keys_cli(
        stack, "create", "--account", "acct-cli", "--role", "submitter", "--name", "cli-test"
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("dnsorch_") and key not in created.stderr
    key_id = keys.key_id_of(key)

    with stack.client(key) as client:
        assert client.get("/api/v2/dns/requests").status_code == 200
        listed = run_keys_cli(stack, "list")
        assert key_id in listed.stdout and "cli-test" in listed.stdout
        assert key.split("_", 2)[2] not in listed.stdout

        revoked = run_keys_cli(stack, "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        # Valid keys are cached for API_KEY_CACHE_SECONDS (5 s by default): refused within that.
        eventually_sync(
            lambda: client.get("/api/v2/dns/requests").status_code,
            lambda code: code == 401,
            timeout=10,
            what="the revoked key refused",
        )
    assert key_id not in run_keys_cli(stack, "list").stdout
    assert key_id in run_keys_cli(stack, "list", "--all").stdout
    assert run_keys_cli(stack, "revoke", key_id).returncode == 1
    assert run_keys_cli(stack, "create", "--account", "a", "--role", "root").returncode == 2

    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT row_to_json(k)::text FROM api_keys k WHERE id = :id"), {"id": key_id}
        )
        row = stored.scalar_one()
    assert key not in row and key.split("_", 2)[2] not in row


@pytest.fixture
def limited_api(stack_env: dict[str, str], tmp_path: Path) -> Iterator[ProcessStack]:
    """An API of its own with a small bucket (3 requests, then one per 2 s) and a 2 KiB body limit."""
    env = {
        **stack_env,
        "API_PORT": str(free_port()),
        "API_RATE_BURST": "3",
        "API_RATE_PER_SECOND": "0.5",
        "API_MAX_BODY_BYTES": "2048",
    }
    processes = ProcessStack(env, tmp_path)
    try:
        processes.start("api")
        yield processes
    finally:
        processes.stop_all()


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(
    limited_api: ProcessStack, team_keys: dict[str, str]
) -> None:
    with limited_api.client(team_keys["red"]) as red, limited_api.client(team_keys["blue"]) as blue:
        answers = [red.get("/api/v2/dns/requests").status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        limited = red.get("/api/v2/dns/requests")
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 2
        assert blue.get("/api/v2/dns/requests").status_code == 200
        assert red.get("/healthz").status_code == 200  # liveness is never limited


def test_an_oversized_body_is_413_before_anything_reads_it(
    limited_api: ProcessStack, team_keys: dict[str, str]
) -> None:
    body = v2_body("acct-red", "big.example.test")
    body["resource"]["comment"] = "x" * 4096
    with limited_api.client(team_keys["red"]) as red:
        declared = red.post("/api/v2/dns/requests", json=body)
        assert declared.status_code == 413
        assert declared.json()["error"]["code"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
            yield b'{"operation": "create", "resource": {"comment": "'
            for _ in range(8):
                yield b"y" * 512
            yield b'"}}'

        streamed = red.post(
            "/api/v2/dns/requests", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
