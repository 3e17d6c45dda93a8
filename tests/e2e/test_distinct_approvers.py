"""N distinct approvers on the real stack (issue 26): with APPROVAL_MIN_APPROVERS=2 and four eyes, a
held request waits for two operators' keys; an operator of the submitting account is refused with
403 `four_eyes`; the first approval is on the timeline with who and when and the request still
waits, the same operator again is a 409 `already_approved`, the second operator lets it go and DNS
serves it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dnsorch.store import keys
from tests.fixtures.api_v2 import as_account, body, wait_v2
from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.e2e

HELD_ACCOUNT = "acct-two-eyes"


@pytest.fixture(scope="module")
def two_approver_api(
    stack: ProcessStack, stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessStack]:
    """A second API of the session's stack (same worker, database and Temporal) that holds every
    request of HELD_ACCOUNT for two distinct approvers, under four eyes."""
    env = {
        **stack_env,
        "API_PORT": str(free_port()),
        "APPROVAL_ACCOUNTS": HELD_ACCOUNT,
        "APPROVAL_MIN_APPROVERS": "2",
        "APPROVAL_FOUR_EYES": "true",
    }
    api = ProcessStack(env, Path(tmp_path_factory.mktemp("two-approvers")))
    try:
        api.start("api")
        yield api
    finally:
        api.stop_all()


def client(api: ProcessStack, engine: Engine, account: str, role: str, name: str) -> httpx.Client:
    return api.client(keys.create_key(engine, account, role, f"{name}-{uuid.uuid4().hex[:6]}")[1])


def approve(api_client: httpx.Client, request_id: str, note: str = "") -> httpx.Response:
    return api_client.post(f"/api/v2/dns/requests/{request_id}/actions/approve", json={"note": note})


def test_a_held_request_goes_ahead_only_after_two_distinct_operators_approve(
    two_approver_api: ProcessStack, engine: Engine, bind_server: Any
) -> None:
    submitter = client(two_approver_api, engine, HELD_ACCOUNT, "submitter", "sub")
    alice = client(two_approver_api, engine, "acct-ops-a", "operator", "alice")
    bob = client(two_approver_api, engine, "acct-ops-b", "operator", "bob")
    name = f"two-eyes-{uuid.uuid4().hex[:6]}.example.test"
    accepted = submitter.post("/api/v2/dns/requests", json=as_account(body(name, "192.0.2.84"), HELD_ACCOUNT))
    assert accepted.status_code == 202, accepted.text
    request_id = accepted.json()["request_id"]
    held = wait_v2(two_approver_api, request_id, {"PENDING_APPROVAL"}, timeout=30)
    assert any("needs 2 distinct approvers" in e["message"] for e in held["timeline"]), held["timeline"]

    own = client(two_approver_api, engine, HELD_ACCOUNT, "operator", "own")
    refused = approve(own, request_id, "my own team's change")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "four_eyes", refused.text
    assert "another account must approve it" in refused.text

    first = approve(alice, request_id, "looks right")
    assert first.status_code == 200 and first.json()["status"] == "PENDING_APPROVAL", first.text
    again = approve(alice, request_id)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_approved", again.text
    assert "approved the request already" in again.text
    assert served(bind_server, name) == [], "applied after one approval of two"

    second = approve(bob, request_id)
    assert second.status_code == 200 and second.json()["status"] in ("IN_PROGRESS", "COMPLETED"), second.text
    done = wait_v2(two_approver_api, request_id, {"COMPLETED", "FAILED", "REJECTED", "NEEDS_ATTENTION"})
    assert done["status"] == "COMPLETED", done["timeline"]
    assert served(bind_server, name) == ["192.0.2.84"]
    lines = [e for e in done["timeline"] if e.get("step") == "approval" and "approver" in e]
    assert [line["message"].split(" by ")[0] for line in lines] == ["approval 1 of 2", "approval 2 of 2"]
    assert lines[0]["actor"].startswith("alice-") and lines[1]["actor"].startswith("bob-")
    assert lines[0]["approver"] != lines[1]["approver"] and all(line["at"] for line in lines)
