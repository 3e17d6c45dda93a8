"""The soak's final-status check orders requests by when their change took effect, not by when
they ended: a request whose change was served, then waited for an operator over its PTR while a
later request changed the name, ends COMPLETED last, and `dns_records` keeps its row retired
(dnsorch.store.served_records.apply_record). Seen with ENGINE=server SEED=202 N=1000."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from dnsorch.store import DnsRecord
from soak.check_dns import check_final_status_vs_dns
from soak.facts import Facts, Row
from soak.report import Report

T0 = datetime(2026, 12, 5, 1, 11, 35, tzinfo=UTC)
NAME = "img.cdn.shop.example.test"


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def row(operation: str, target: str, log: list[dict[str, Any]]) -> Row:
    return Row(
        str(uuid.uuid4()), "acct-b", "api", operation, "A", NAME, target, {}, "COMPLETED", log, T0,
        None, None, None,
    )  # fmt: skip


def record(request: Row, served: float, retired: float | None = None) -> DnsRecord:
    return DnsRecord(
        request_id=uuid.UUID(request.id),
        record_type="A",
        domain=NAME,
        target=request.target,
        ttl=300,
        provisioned_at=T0 + timedelta(seconds=served),
        deleted_at=None if retired is None else T0 + timedelta(seconds=retired),
    )


def served_then_ended(served: float, ended: float, waited: bool = False) -> list[dict[str, Any]]:
    log = [
        {"at": at(0), "status": "PENDING", "step": "accept", "message": "accepted"},
        {"at": at(served), "step": "verify", "message": "served by every authoritative server"},
    ]
    if waited:
        log.append(
            {"at": at(served + 10), "status": "NEEDS_ATTENTION", "step": "attention", "message": "PTR"}
        )
    return [*log, {"at": at(ended), "status": "COMPLETED", "step": "finished", "message": "done"}]


def violations(rows: list[Row], records: list[DnsRecord]) -> list[str]:
    report = Report()
    facts = Facts({r.id: r for r in rows}, records, {}, [], {}, {})
    check_final_status_vs_dns(facts, [], set(), report)
    return [v.message for v in report.violations]


def test_a_request_that_completed_late_after_a_later_change_is_not_the_last_change() -> None:
    late = row("update", "192.0.2.36", served_then_ended(16.5, 51.4, waited=True))
    later = row("update", "192.0.2.11", served_then_ended(38.1, 46.9))
    records = [record(late, 16.5, retired=38.1), record(later, 38.1)]
    assert violations([late, later], records) == []


def test_a_delete_that_completed_late_after_a_later_create_is_not_the_last_change() -> None:
    delete = row("delete", "", served_then_ended(5.0, 40.0, waited=True))
    create = row("create", "192.0.2.11", served_then_ended(20.0, 21.0))
    assert violations([delete, create], [record(create, 20.0)]) == []


def test_the_last_change_served_must_still_be_the_current_row() -> None:
    first = row("update", "192.0.2.36", served_then_ended(5.0, 6.0))
    last = row("update", "192.0.2.11", served_then_ended(20.0, 21.0))
    records = [record(first, 5.0), record(last, 20.0, retired=30.0)]  # retired by nobody: wrong
    assert violations([first, last], records) == [
        f"{last.summary()} ended COMPLETED last but is not the current row"
    ]


def test_a_rollback_after_a_retry_restores_the_first_plans_snapshot_not_the_retrys() -> None:
    """An expiry's delete served, waited for an operator over its PTR, was retried (its plan then saw
    nothing left to delete) and rolled back: DNS serves the first plan's values again (SEED=11)."""
    first_plan = {"action": "delete", "old_values": ["192.0.2.57"], "new_values": []}
    retry_plan = {"action": "none", "old_values": [], "new_values": []}
    log = [
        {"at": at(0), "step": "plan", "message": "plan: delete", "plan": first_plan},
        {"at": at(2), "step": "verify", "message": "served by every authoritative server"},
        {"at": at(3), "status": "NEEDS_ATTENTION", "step": "attention", "message": "PTR"},
        {"at": at(4), "step": "plan", "message": "plan: none", "plan": retry_plan},
        {"at": at(5), "step": "verify", "message": "served by every authoritative server"},
        {"at": at(8), "status": "ROLLED_BACK", "step": "finished", "message": "rolled back"},
    ]
    assert row("delete", "", log).snapshot() == ["192.0.2.57"]
