"""The time-aware changes (issue 26) against their true outcome: a scheduled request is not applied
before its time; a TTL dance ends with the TTL DNS serves, and a stopped one leaves the old value at
the old TTL; an expired record is gone, and an expiry's delete never takes a record a later request
put there; nothing is applied in a frozen zone during its window unless let through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dnsorch.dns import parse_values
from dnsorch.store import DnsRecord
from soak.facts import Facts, Row, final_at, record_summary, served_rrset
from soak.history import events_for, story
from soak.report import Report

APPLIED = ("apply", "verify", "ttl-dance")
"""Timeline steps that mean the change is under way or served."""
GRACE = timedelta(seconds=0.5)
"""Slack for the edges of a freeze window: the workflow's clock and the API's are a moment apart."""
EXPIRED_FOR = timedelta(seconds=5)


def at(entry: dict[str, Any]) -> datetime | None:
    return datetime.fromisoformat(entry["at"]) if entry.get("at") else None


def check_timed(facts: Facts, events: list[dict[str, Any]], report: Report) -> None:
    check_scheduled(facts, events, report)
    check_dances(facts, events, report)
    check_expiries(facts, events, report)
    check_freezes(facts, events, report)


def not_before(row: Row) -> datetime | None:
    """Its latest time: a reschedule's line on the timeline, else the request's."""
    for entry in reversed(row.log):
        if entry.get("not_before"):
            return datetime.fromisoformat(entry["not_before"])
    found = row.config.get("not_before")
    return datetime.fromisoformat(found) if found else None


def check_scheduled(facts: Facts, events: list[dict[str, Any]], report: Report) -> None:
    for row in facts.rows.values():
        due = not_before(row)
        if due is None:
            continue
        early = [
            e for e in row.log if e.get("step") in APPLIED and (when := at(e)) is not None and when < due
        ]
        if early:
            report.add(
                "scheduled",
                f"{row.summary()} was due at {due.isoformat()} but went ahead at {early[0]['at']}",
                events_for(events, row.id),
                row.log_tail(),
            )


def plan_of(row: Row) -> dict[str, Any] | None:
    for entry in reversed(row.log):
        if isinstance(entry.get("plan"), dict):
            return dict(entry["plan"])
    return None


def check_dances(facts: Facts, events: list[dict[str, Any]], report: Report) -> None:
    """A dance that ended COMPLETED and is still the record set's row is served at its TTL; one that
    stopped (CANCELLED, FAILED) with nothing after it leaves what its plan saw, at the old TTL."""
    for row in facts.rows.values():
        if not row.config.get("ttl_dance") or row.dry_run:
            continue
        later = [
            r
            for r in facts.records
            if r.domain == row.domain
            and r.record_type == row.record_type
            and r.provisioned_at > row.created_at
            and str(r.request_id) != row.id
        ]
        current = facts.current_rows(row.domain, row.record_type)
        if row.status == "COMPLETED" and [str(c.request_id) for c in current] == [row.id]:
            want_values, want_ttl = None, int(row.config.get("ttl") or current[0].ttl)
        elif row.status in ("CANCELLED", "FAILED") and not later:
            plan = plan_of(row)
            if plan is None or plan.get("action") == "unknown" or plan.get("old_ttl") is None:
                continue
            want_values = frozenset(parse_values(row.record_type, [str(v) for v in plan["old_values"]]))
            want_ttl = int(plan["old_ttl"])
        else:
            continue
        wanted = sorted(v.to_text() for v in want_values) if want_values is not None else "its value"
        for label, server in facts.servers.items():
            served = served_rrset(server, row.domain, row.record_type)
            if served.error:
                continue
            if (want_values is not None and served.values != want_values) or (
                served.values and served.ttl != want_ttl
            ):
                report.add(
                    "ttl_dance",
                    f"{row.summary()}: {label} serves {served.text()} at TTL {served.ttl}, "
                    f"not {wanted} at TTL {want_ttl}",
                    story(events, {row.id}, events_for(events, row.id)),
                    row.log_tail(12),
                )


def check_expiries(facts: Facts, events: list[dict[str, Any]], report: Report) -> None:
    now = datetime.now(UTC)
    deletes: dict[str, list[Row]] = {}
    for row in facts.rows.values():
        of = (row.config.get("extra_config") or {}).get("expiry_of") if row.source == "expiry" else None
        if of:
            deletes.setdefault(str(of), []).append(row)
    for row in facts.rows.values():
        if row.expires_at is None or row.status != "COMPLETED" or row.dry_run:
            continue
        expires_at = latest_expiry(row)
        own = [r for r in facts.records if str(r.request_id) == row.id and r.deleted_at is None]
        if not own or expires_at > now - EXPIRED_FOR:
            continue
        mine = deletes.get(row.id, [])
        if not mine or any(d.status == "COMPLETED" for d in mine):
            report.add(
                "expiry",
                f"{row.summary()} expired at {expires_at.isoformat()} but dns_records still keeps its "
                f"record; deletes: {[d.summary() for d in mine] or 'none ran'}",
                events_for(events, row.id),
                [record_summary(r) for r in own] + row.log_tail(),
            )
    for expiring_id, mine in deletes.items():
        for delete in mine:
            if delete.status == "COMPLETED":
                taken = taken_from_others(facts, delete, expiring_id)
                if taken:
                    report.add(
                        "expiry",
                        f"the expiry delete {delete.summary()} of request {expiring_id} retired "
                        "a record a later request put there",
                        events_for(events, expiring_id),
                        [record_summary(r) for r in taken] + delete.log_tail(),
                    )


def latest_expiry(row: Row) -> datetime:
    """The request's `expires_at` column is moved by an extension, so it is the latest time."""
    assert row.expires_at is not None
    found = row.expires_at
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def taken_from_others(facts: Facts, delete: Row, expiring_id: str) -> list[DnsRecord]:
    """Records of another request retired while the expiry's delete ran with no record replacing them."""
    end = final_at(delete)
    if end is None:
        return []
    same = [r for r in facts.records if r.domain == delete.domain and r.record_type == delete.record_type]
    taken = []
    for record in same:
        gone = record.deleted_at
        if str(record.request_id) == expiring_id or gone is None:
            continue
        if not delete.created_at <= gone <= end + timedelta(seconds=2):
            continue
        replaced = any(abs((r.provisioned_at - gone).total_seconds()) < 2 for r in same if r is not record)
        if not replaced:
            taken.append(record)
    return taken


@dataclass
class Window:
    id: str
    zone: str | None
    start: datetime
    end: datetime


def freeze_windows(events: list[dict[str, Any]]) -> list[Window]:
    """Each window the soak declared, ending when it ended early (its DELETE's answer) if it did."""
    windows: dict[str, Window] = {}
    for e in events:
        answer = e.get("answer")
        if e["kind"] != "call" or not isinstance(answer, dict) or "starts_at" not in answer:
            continue
        if e["method"] == "POST" and e.get("status") == 201:
            windows[answer["id"]] = Window(
                answer["id"],
                answer.get("zone"),
                datetime.fromisoformat(answer["starts_at"]),
                datetime.fromisoformat(answer["ends_at"]),
            )
        elif e["method"] == "DELETE" and e.get("status") == 200 and answer.get("cancelled_at"):
            window = windows.get(answer["id"])
            if window is not None:
                window.end = min(window.end, datetime.fromisoformat(answer["cancelled_at"]))
    return list(windows.values())


def _applies(entry: dict[str, Any]) -> bool:
    """A line that means the change was tried or served. A status line (IN_PROGRESS with step
    `apply`) is not one: a request goes IN_PROGRESS before it asks whether its zone is frozen."""
    return entry.get("step") in APPLIED and not (entry.get("step") == "apply" and entry.get("status"))


def check_freezes(facts: Facts, events: list[dict[str, Any]], report: Report) -> None:
    """A request that reached its first plan during a window applies nothing before the window ends,
    unless it is an emergency or was let through."""
    for window in freeze_windows(events):
        start, end = window.start + GRACE, window.end
        for row in facts.rows.values():
            zone = window.zone
            if zone is not None and row.domain != zone and not row.domain.endswith("." + zone):
                continue
            if row.config.get("emergency") or any(
                "let through" in str(e.get("message", "")) for e in row.log
            ):
                continue
            first = next((e for e in row.log if e.get("step") in ("plan", "freeze")), None)
            first_at = at(first) if first else None
            if first_at is None or not start <= first_at < end:
                continue
            applied = [e for e in row.log if _applies(e) and (w := at(e)) is not None and first_at <= w < end]
            if applied:
                report.add(
                    "freeze",
                    f"{row.summary()} was applied at {applied[0]['at']} inside the freeze window "
                    f"{window.id} ({window.start.isoformat()} to {window.end.isoformat()}), "
                    f"which it reached at {first_at.isoformat()}",
                    events_for(events, row.id),
                    row.log_tail(),
                )
