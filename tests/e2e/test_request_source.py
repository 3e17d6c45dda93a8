"""The door sets a request's `source` on the real stack: a REST create whose body claims to come from
drift detection is an `api` request, stored, shown and run as one (a drift request's workflow would
treat it as a restore that lost its record and end it CANCELLED)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.fixtures.api_v2 import FINAL, wait_v2
from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack

pytestmark = pytest.mark.e2e


def claiming_drift(domain: str, target: str) -> dict[str, Any]:
    return {
        "context": {"account_id": "acct-source", "source": "drift"},
        "resource": {"record_type": "A", "domain": domain, "target": target, "config": {"ttl": 300}},
    }


def assert_ran_as_an_api_request(stack: ProcessStack, request_id: str) -> None:
    done = stack.wait_for_status(request_id, FINAL)
    assert (done["status"], done["source"]) == ("COMPLETED", "api"), done["log_messages"]
    assert {entry["actor"] for entry in done["log_messages"]} <= {"api", "workflow"}, done["log_messages"]
    drift_listed = stack.http.get(
        "/api/v2/dns/requests", params={"source": "drift", "domain": done["domain"]}
    )
    assert drift_listed.json()["items"] == []


def test_a_v1_create_claiming_drift_is_an_api_request_and_completes(
    stack: ProcessStack, bind_server: Any
) -> None:
    name = f"claims-drift-v1-{uuid.uuid4().hex[:6]}.example.test"
    answer = stack.http.post("/api/v1/dns/create", json=claiming_drift(name, "192.0.2.71"), timeout=30)
    assert answer.status_code == 200, answer.text  # v1 keeps the field in its contract: accepted, not obeyed

    assert_ran_as_an_api_request(stack, answer.json()["request_id"])
    assert served(bind_server, name) == ["192.0.2.71"]


def test_a_v2_create_claiming_drift_is_an_api_request_and_completes(
    stack: ProcessStack, bind_server: Any
) -> None:
    name = f"claims-drift-v2-{uuid.uuid4().hex[:6]}.example.test"
    payload = {"operation": "create", **claiming_drift(name, "192.0.2.72")}
    answer = stack.http.post("/api/v2/dns/requests", json=payload, timeout=30)
    assert answer.status_code == 202, answer.text
    assert answer.json()["source"] == "api"

    assert wait_v2(stack, answer.json()["request_id"], FINAL)["status"] == "COMPLETED"
    assert_ran_as_an_api_request(stack, answer.json()["request_id"])
    assert served(bind_server, name) == ["192.0.2.72"]
