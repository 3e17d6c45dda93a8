"""Plan before apply on the real stack: the diff against what BIND serves is on the request, a dry
run changes nothing, and data dnsorch does not manage stops a request before it is applied."""

from __future__ import annotations

import subprocess
import uuid
from typing import Any

import pytest

from tests.fixtures.api_v2 import FINAL, as_account, body, post_v2
from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack

pytestmark = pytest.mark.e2e


def detail(stack: ProcessStack, request_id: str) -> dict[str, Any]:
    stack.wait_for_status(request_id, FINAL)
    return stack.http.get(f"/api/v2/dns/requests/{request_id}", timeout=10).json()


def add_by_hand(bind_server: Any, name: str, value: str) -> None:
    """An A record made behind dnsorch's back, with nsupdate and the zone's key."""
    script = f"server {bind_server.host} {bind_server.port}\nupdate add {name} 300 A {value}\nsend\n"
    subprocess.run(
        ["nsupdate", "-k", str(bind_server.key_file)], input=script, text=True, check=True, timeout=10
    )


def test_a_dry_run_shows_the_diff_and_changes_nothing(stack: ProcessStack, bind_server: Any) -> None:
    name = f"plan-{uuid.uuid4().hex[:6]}.example.test"
    created = post_v2(stack, as_account(body(name, "192.0.2.30"), "acct-plan")).json()
    assert detail(stack, created["request_id"])["status"] == "COMPLETED"

    payload = as_account(body(name, "192.0.2.31", "update", ttl=900), "acct-plan")
    dry = post_v2(stack, {**payload, "dry_run": True})
    assert dry.status_code == 202, dry.text
    seen = detail(stack, dry.json()["request_id"])
    assert seen["status"] == "COMPLETED" and seen["dry_run"] is True
    plan = seen["plan"]
    assert (plan["action"], plan["old_values"], plan["new_values"]) == (
        "replace",
        ["192.0.2.30"],
        ["192.0.2.31"],
    )
    assert (plan["old_ttl"], plan["new_ttl"]) == (300, 900)
    assert any(entry["message"].startswith("plan: replace A ") for entry in seen["timeline"])
    assert seen["record"] is None
    assert served(bind_server, name) == ["192.0.2.30"], "a dry run changed DNS"

    real = post_v2(stack, payload).json()
    applied = detail(stack, real["request_id"])
    assert applied["status"] == "COMPLETED" and applied["plan"]["action"] == "replace"
    assert served(bind_server, name) == ["192.0.2.31"]


def test_a_name_made_behind_dnsorchs_back_is_not_taken_over(stack: ProcessStack, bind_server: Any) -> None:
    """Accept reads only PostgreSQL; the plan finds the unmanaged data and rejects the request."""
    name = f"manual-{uuid.uuid4().hex[:6]}.example.test"
    add_by_hand(bind_server, name, "198.51.100.9")
    created = post_v2(stack, as_account(body(name, "192.0.2.32"), "acct-plan"))
    assert created.status_code == 202, created.text
    seen = detail(stack, created.json()["request_id"])
    assert seen["status"] == "REJECTED", seen["timeline"]
    assert seen["plan"]["conflict"].startswith("unmanaged_name: A ")
    assert (
        "exists on the DNS server (198.51.100.9) but dnsorch does not manage it" in seen["plan"]["conflict"]
    )
    assert served(bind_server, name) == ["198.51.100.9"]
