"""Expiring records on the real stack (issue 26): a v2 create with `expires_at` is served, warned of
on the events outbox, and deleted from DNS at its time by a delete request of its own (source
`expiry`, no approval although deletes are risky here); an extension keeps it; a time that cannot be
kept, or an expiry on a delete, is a 422 naming the field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.fixtures.api_v2 import as_account, body, post_v2, wait_v2
from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.waiting import eventually_sync

pytestmark = pytest.mark.e2e
ACCOUNT = "acct-expiry"
LEAD = timedelta(seconds=6)
"""How far ahead a test's record expires: room for its create (≈2 s) to complete and be served first,
and for an extension to reach the expiry before that time; the tests wait it out, so keep it short."""


def expiring(name: str, target: str, at: datetime) -> dict[str, Any]:
    return {**as_account(body(name, target), ACCOUNT), "expires_at": at.isoformat()}


def outbox(engine: Engine, request_id: str) -> list[tuple[int, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT sequence, status, reason FROM request_events WHERE request_id = :id ORDER BY sequence"
            ),
            {"id": request_id},
        )
        return [(r[0], r[1], r[2]) for r in rows]


def expiry_deletes(stack: ProcessStack, name: str) -> list[dict[str, Any]]:
    """The delete requests an expiry started for `name`."""
    answer = stack.http.get("/api/v2/dns/requests", params={"domain": name, "source": "expiry"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_an_expiring_record_is_served_then_deleted_at_its_time(
    stack: ProcessStack, bind_server: Any, engine: Engine
) -> None:
    name = f"exp-{uuid.uuid4().hex[:6]}.example.test"
    expires_at = (datetime.now(UTC) + LEAD + timedelta(seconds=1)).replace(microsecond=0)
    accepted = post_v2(stack, expiring(name, "192.0.2.90", expires_at))
    assert accepted.status_code == 202, accepted.text
    request_id = accepted.json()["request_id"]
    done = wait_v2(stack, request_id, {"COMPLETED", "FAILED", "REJECTED", "NEEDS_ATTENTION"}, timeout=60)
    assert done["status"] == "COMPLETED", done["timeline"]
    assert datetime.fromisoformat(done["expires_at"]) == expires_at
    assert served(bind_server, name) == ["192.0.2.90"]
    records = stack.http.get("/api/v2/dns/records", params={"domain": name}, timeout=10).json()["items"]
    assert [datetime.fromisoformat(r["expires_at"]) for r in records] == [expires_at]

    eventually_sync(
        lambda: served(bind_server, name), lambda values: values == [], timeout=120, what="deleted at expiry"
    )
    assert datetime.now(UTC) >= expires_at, "deleted before its time"
    [delete] = expiry_deletes(stack, name)
    assert delete["operation"] == "delete" and delete["account_id"] == ACCOUNT
    deleted = wait_v2(stack, delete["request_id"], {"COMPLETED"}, timeout=60)
    assert not any(e.get("status") == "PENDING_APPROVAL" for e in deleted["timeline"]), (
        "the expiry waited for approval"
    )
    warning = [e for e in outbox(engine, request_id) if e[1] == "EXPIRING"]
    assert len(warning) == 1 and f"expires at {expires_at.isoformat()}" in warning[0][2]
    timeline = wait_v2(stack, request_id, {"COMPLETED"})["timeline"]
    assert any(f"delete request {delete['request_id']} started" in e["message"] for e in timeline)


def test_an_extended_record_outlives_its_first_time(stack: ProcessStack, bind_server: Any) -> None:
    name = f"exp-{uuid.uuid4().hex[:6]}.example.test"
    first = datetime.now(UTC) + LEAD
    request_id = post_v2(stack, expiring(name, "192.0.2.91", first)).json()["request_id"]
    wait_v2(stack, request_id, {"COMPLETED"}, timeout=60)
    later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    moved = stack.http.post(
        f"/api/v2/dns/requests/{request_id}/expiry",
        json={"expires_at": later.isoformat(), "note": "still needed"},
        timeout=30,
    )
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["expires_at"]) == later
    eventually_sync(
        lambda: datetime.now(UTC),
        lambda now: now > first + timedelta(seconds=3),
        timeout=60,
        what="past the first time",
    )
    # An expiry that fired at `first` would have accepted its delete within a second, long before
    # the playbook took the record from BIND: look for both.
    assert expiry_deletes(stack, name) == [], "an expiry delete started at the time it was extended from"
    assert served(bind_server, name) == ["192.0.2.91"], "deleted at the time it was extended from"
    seen = wait_v2(stack, request_id, {"COMPLETED"})
    assert datetime.fromisoformat(seen["expires_at"]) == later
    assert any("expiry moved by" in e["message"] and "still needed" in e["message"] for e in seen["timeline"])
    naive = stack.http.post(
        f"/api/v2/dns/requests/{request_id}/expiry", json={"expires_at": "2030-01-01T10:00:00"}, timeout=30
    )
    assert naive.status_code == 422 and "expires_at" in naive.text


def test_extending_a_request_without_expiry_is_a_conflict(stack: ProcessStack) -> None:
    name = f"exp-{uuid.uuid4().hex[:6]}.example.test"
    request_id = post_v2(stack, as_account(body(name, "192.0.2.92"), ACCOUNT)).json()["request_id"]
    wait_v2(stack, request_id, {"COMPLETED"}, timeout=60)
    answer = stack.http.post(
        f"/api/v2/dns/requests/{request_id}/expiry",
        json={"expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
        timeout=30,
    )
    assert answer.status_code == 409 and "no expiry" in answer.text, answer.text


@pytest.mark.parametrize(
    ("when", "operation", "reason"),
    [
        ("2030-01-01T10:00:00", "create", "UTC offset"),
        ("2020-01-01T10:00:00Z", "update", "has passed"),
        ("400 days from now", "create", "days ahead"),
        ("1 day from now", "delete", "a delete cannot expire"),
    ],
)
def test_an_expiry_that_cannot_be_kept_is_refused_with_its_reason(
    stack: ProcessStack, when: str, operation: str, reason: str
) -> None:
    if when.endswith("from now"):  # made here: parameters must be the same in every xdist worker
        days = 400 if when.startswith("400") else 1
        when = (datetime.now(UTC) + timedelta(days=days)).isoformat()
    payload = as_account(body(f"exp-{uuid.uuid4().hex[:6]}.example.test", "192.0.2.93", operation), ACCOUNT)
    answer = post_v2(stack, {**payload, "expires_at": when})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"][0]["field"] == "expires_at" and reason in answer.text
