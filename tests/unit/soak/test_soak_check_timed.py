"""The soak's checks of time-aware changes: a scheduled request applied before its time, a request
applied inside a freeze window it reached, an expired record still kept, and an expiry's delete
taking a record a later request put there are violations; waiting them out is not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from dnsorch.store import DnsRecord
from soak.check_timed import check_expiries, check_freezes, check_scheduled
from soak.facts import Facts, Row
from soak.report import Report
from soak.timed import timed_body

T0 = datetime(2026, 12, 5, 4, 30, tzinfo=UTC)
NAME = "web.example.test"


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def row(log: list[dict[str, Any]], config: dict[str, Any] | None = None) -> Row:
    return Row(
        str(uuid.uuid4()), "acct-a", "api", "update", "A", NAME, "192.0.2.50", config or {}, "COMPLETED",
        log, T0, None, None, None,
    )  # fmt: skip


def facts(*rows: Row) -> Facts:
    return Facts({r.id: r for r in rows}, [], {}, [], {}, {})


def scheduled(due: float, applied: float, moved_to: float | None = None) -> Row:
    log = [{"at": at(0), "status": "SCHEDULED", "step": "schedule", "not_before": at(due)}]
    if moved_to is not None:
        log.append({"at": at(1), "step": "schedule", "not_before": at(moved_to), "message": "moved"})
    log += [
        {"at": at(applied), "status": "IN_PROGRESS", "step": "apply", "message": "provisioning started"},
        {"at": at(applied + 1), "step": "verify", "message": "served"},
    ]
    return row(log, {"not_before": at(due)})


def test_a_scheduled_change_applied_before_its_time_is_a_violation() -> None:
    report = Report()
    check_scheduled(facts(scheduled(due=5, applied=3)), [], report)
    assert [v.check for v in report.violations] == ["scheduled"]


def test_a_scheduled_change_is_judged_by_its_latest_time() -> None:
    on_time, moved_late = Report(), Report()
    check_scheduled(facts(scheduled(due=5, applied=5.2)), [], on_time)
    check_scheduled(facts(scheduled(due=5, applied=6, moved_to=8)), [], moved_late)
    assert on_time.violations == []
    assert [v.check for v in moved_late.violations] == ["scheduled"]


def freeze_calls(start: float, end: float, ended_early: float | None = None) -> list[dict[str, Any]]:
    window = {"id": "w1", "zone": "example.test", "starts_at": at(start), "ends_at": at(end)}
    calls = [{"kind": "call", "method": "POST", "status": 201, "answer": window}]
    if ended_early is not None:
        answer = {**window, "cancelled_at": at(ended_early)}
        calls.append({"kind": "call", "method": "DELETE", "status": 200, "answer": answer})
    return calls


def planned_then_applied(plan: float, applied: float, **extra: Any) -> Row:
    return row(
        [
            {"at": at(plan), "step": "plan", "message": "plan: replace"},
            {"at": at(applied), "step": "verify", "message": "served", **extra},
        ]
    )


def test_a_change_applied_inside_the_freeze_it_reached_is_a_violation() -> None:
    report = Report()
    check_freezes(facts(planned_then_applied(plan=2, applied=3)), freeze_calls(1, 10), report)
    assert [v.check for v in report.violations] == ["freeze"]


def test_a_change_that_waited_out_the_freeze_or_its_early_end_or_was_let_through_is_fine() -> None:
    waited = planned_then_applied(plan=2, applied=10.1)
    after_early_end = planned_then_applied(plan=2, applied=4)
    let_through = row(
        [
            {"at": at(2), "status": "FROZEN", "step": "freeze", "message": "frozen until …"},
            {"at": at(3), "step": "freeze", "message": "let through the freeze by soak-ops"},
            {"at": at(3.5), "step": "verify", "message": "served"},
        ]
    )
    planned_before = planned_then_applied(plan=0.5, applied=2)
    report = Report()
    check_freezes(facts(waited, let_through, planned_before), freeze_calls(1, 10), report)
    check_freezes(facts(after_early_end), freeze_calls(1, 10, ended_early=3.5), report)
    assert report.violations == []


def test_the_driver_sends_times_as_utc_from_now_and_the_same_body_on_a_retry() -> None:
    params = {"body": {"operation": "create"}, "not_before_in": 3.0, "expires_in": 4.0, "ttl_dance": True}
    before = datetime.now(UTC)
    body = timed_body(params)
    due, expires = datetime.fromisoformat(body["not_before"]), datetime.fromisoformat(body["expires_at"])
    assert before + timedelta(seconds=3) <= due < expires
    assert expires - due >= timedelta(seconds=3.9)  # the record lives its time after it is due
    assert body["ttl_dance"] is True and "not_before" not in params["body"]


def expiring(expires_in: float, status: str = "COMPLETED") -> Row:
    found = row([{"at": at(0), "status": status, "step": "finished", "message": "done"}])
    found.operation, found.status = "create", status
    found.expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
    return found


def expiry_delete(of: Row, started: float, ended: float) -> Row:
    found = row([{"at": at(ended), "status": "COMPLETED", "step": "finished", "message": "deleted"}])
    found.source, found.operation, found.target = "expiry", "delete", ""
    found.config = {"extra_config": {"expiry_of": of.id}}
    found.created_at = T0 + timedelta(seconds=started)
    return found


def kept(request: Row, served: float, retired: float | None = None) -> DnsRecord:
    return DnsRecord(
        request_id=uuid.UUID(request.id),
        record_type="A",
        domain=NAME,
        target=request.target,
        ttl=300,
        provisioned_at=T0 + timedelta(seconds=served),
        deleted_at=None if retired is None else T0 + timedelta(seconds=retired),
    )


def expiry_violations(rows: list[Row], records: list[DnsRecord]) -> list[str]:
    report = Report()
    check_expiries(Facts({r.id: r for r in rows}, records, {}, [], {}, {}), [], report)
    return [v.message for v in report.violations]


def test_an_expired_record_still_kept_with_no_delete_is_a_violation() -> None:
    gone, not_yet = expiring(-30), expiring(60)
    assert len(expiry_violations([gone], [kept(gone, 1)])) == 1
    assert expiry_violations([not_yet], [kept(not_yet, 1)]) == []
    assert expiry_violations([gone], [kept(gone, 1, retired=20)]) == []


def test_an_expiry_delete_that_retires_a_record_a_later_request_put_there_is_a_violation() -> None:
    first, later = expiring(-30), row([])
    wrong = expiry_delete(first, started=20, ended=22)
    records = [kept(first, 1, retired=10), kept(later, 10, retired=21)]
    assert len(expiry_violations([first, later, wrong], records)) == 1
    right = expiry_delete(first, started=5, ended=7)
    assert expiry_violations([first, right], [kept(first, 1, retired=6)]) == []


def test_a_scheduled_change_due_inside_a_freeze_that_waits_it_out_is_fine() -> None:
    """At its time a scheduled request plans (judged when due) and goes IN_PROGRESS before it asks
    about freezes: that status line applies nothing. Its apply after the window is fine; one inside
    it, even one that failed, is not."""
    due_in_window = [
        {"at": at(2), "step": "plan", "message": "plan: replace (judged when due)"},
        {"at": at(2.01), "status": "IN_PROGRESS", "step": "apply", "message": "provisioning started"},
        {"at": at(2.02), "status": "FROZEN", "step": "freeze", "message": "waiting: frozen until …"},
    ]
    waited = row([*due_in_window, {"at": at(10.5), "step": "verify", "message": "served"}])
    tried = row([*due_in_window, {"at": at(4), "step": "apply", "message": "Ansible step failed: …"}])
    fine, broken = Report(), Report()
    check_freezes(facts(waited), freeze_calls(1, 10), fine)
    check_freezes(facts(tried), freeze_calls(1, 10), broken)
    assert fine.violations == []
    assert [v.check for v in broken.violations] == ["freeze"]
