"""Scheduled changes on the real stack (issue 26): a v2 request with `not_before` is SCHEDULED and
untouched in DNS until its time, then planned and applied; an operator can move or cancel it; a
time without an offset, passed, or too far ahead is a 422 naming the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fixtures.api_v2 import as_account, body, post_v2, wait_v2
from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack

pytestmark = pytest.mark.e2e


def scheduled(name: str, target: str, at: datetime) -> dict[str, Any]:
    return {**as_account(body(name, target), "acct-sched"), "not_before": at.isoformat()}


def test_a_scheduled_create_is_served_only_from_its_time(stack: ProcessStack, bind_server: Any) -> None:
    name = f"sched-{uuid.uuid4().hex[:6]}.example.test"
    due = datetime.now(UTC) + timedelta(seconds=6)
    accepted = post_v2(stack, scheduled(name, "192.0.2.80", due))
    assert accepted.status_code == 202, accepted.text
    request_id = accepted.json()["request_id"]
    waiting = wait_v2(stack, request_id, {"SCHEDULED"}, timeout=30)
    assert datetime.fromisoformat(waiting["not_before"]) == due
    assert served(bind_server, name) == [], "applied before its time"
    done = wait_v2(stack, request_id, {"COMPLETED", "FAILED", "REJECTED", "NEEDS_ATTENTION"}, timeout=90)
    assert done["status"] == "COMPLETED", done["timeline"]
    assert served(bind_server, name) == ["192.0.2.80"]
    applied_at = min(datetime.fromisoformat(e["at"]) for e in done["timeline"] if e["step"] == "plan")
    assert applied_at >= due


def test_a_scheduled_request_can_be_moved_then_cancelled(stack: ProcessStack, bind_server: Any) -> None:
    name = f"sched-{uuid.uuid4().hex[:6]}.example.test"
    request_id = post_v2(stack, scheduled(name, "192.0.2.81", datetime.now(UTC) + timedelta(hours=1))).json()[
        "request_id"
    ]
    wait_v2(stack, request_id, {"SCHEDULED"}, timeout=30)
    later = datetime.now(UTC) + timedelta(days=2)
    moved = stack.http.post(
        f"/api/v2/dns/requests/{request_id}/schedule",
        json={"not_before": later.isoformat(), "note": "after the freeze"},
        timeout=30,
    )
    assert moved.status_code == 200 and moved.json()["status"] == "SCHEDULED", moved.text
    seen = wait_v2(stack, request_id, {"SCHEDULED"})
    assert datetime.fromisoformat(seen["not_before"]) == later
    assert any(
        "rescheduled by" in e["message"] and "after the freeze" in e["message"] for e in seen["timeline"]
    )
    past = stack.http.post(
        f"/api/v2/dns/requests/{request_id}/schedule",
        json={"not_before": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
        timeout=30,
    )
    assert past.status_code == 422 and "not_before" in past.text
    cancelled = stack.http.post(f"/api/v2/dns/requests/{request_id}/actions/cancel", json={}, timeout=30)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED", cancelled.text
    again = stack.http.post(
        f"/api/v2/dns/requests/{request_id}/schedule", json={"not_before": later.isoformat()}, timeout=30
    )
    assert again.status_code == 409, again.text
    assert served(bind_server, name) == []


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("2030-01-01T10:00:00", "UTC offset"),
        ("2020-01-01T10:00:00Z", "has passed"),
        ("400 days from now", "days ahead"),
    ],
)
def test_a_schedule_time_that_cannot_be_kept_is_refused_with_its_reason(
    stack: ProcessStack, when: str, reason: str
) -> None:
    if when == "400 days from now":  # made here: parameters must be the same in every xdist worker
        when = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    payload = {**as_account(body(f"sched-{uuid.uuid4().hex[:6]}.example.test", "192.0.2.82"), "acct-sched")}
    answer = post_v2(stack, {**payload, "not_before": when})
    assert answer.status_code == 422, answer.text
    assert "not_before" in answer.text and reason in answer.text


def cli(stack: ProcessStack, *argv: str) -> subprocess.CompletedProcess[str]:
    """`dnsorch requests …` as an operator types it, against the stack's API with its admin key."""
    env = {**os.environ, "DNSORCH_API_URL": stack.api_url, "DNSORCH_API_KEY": stack.api_key or ""}
    return subprocess.run(
        [sys.executable, "-m", "dnsorch.cli", "requests", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_operator_finds_and_moves_a_scheduled_request_from_the_cli(
    stack: ProcessStack, bind_server: Any
) -> None:
    account = f"acct-cli-{uuid.uuid4().hex[:6]}"
    name = f"sched-{uuid.uuid4().hex[:6]}.example.test"
    when = datetime.now(UTC) + timedelta(hours=1)
    payload = {**as_account(body(name, "192.0.2.83"), account), "not_before": when.isoformat()}
    request_id = post_v2(stack, payload).json()["request_id"]
    wait_v2(stack, request_id, {"SCHEDULED"}, timeout=30)

    listed = cli(stack, "scheduled", "--account", account)
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.startswith(request_id)]
    assert name in row

    moved = cli(stack, "reschedule", request_id, "--at", "+3d", "--note", "after the freeze")
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.startswith(f"reschedule {request_id}: SCHEDULED")
    seen = wait_v2(stack, request_id, {"SCHEDULED"})
    assert datetime.fromisoformat(seen["not_before"]) > datetime.now(UTC) + timedelta(days=2)
    assert any("after the freeze" in e["message"] for e in seen["timeline"])
    shown = cli(stack, "scheduled", "--account", account, "--json")
    [item] = json.loads(shown.stdout)["items"]
    assert datetime.fromisoformat(item["not_before"]) == datetime.fromisoformat(seen["not_before"])

    refused = cli(stack, "reschedule", request_id, "--at", "2020-01-01T00:00:00Z")
    assert refused.returncode == 1 and "has passed" in refused.stderr
    assert cli(stack, "cancel", request_id).returncode == 0
    assert cli(stack, "scheduled", "--account", account).stdout.strip() == "no scheduled requests"
    assert served(bind_server, name) == []
