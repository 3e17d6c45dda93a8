"""The soak's drift rule: a drift request is fine only at a record set a person changed by hand
before it was raised; anywhere else dnsorch itself left DNS and `dns_records` apart."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from soak.checker import Report
from soak.drift_check import check_drift_requests, touched
from soak.facts import Facts, Row

T0 = 1_800_000_000.0


def drift_row(domain: str, rtype: str, raised: float) -> Row:
    at = datetime.fromtimestamp(raised, UTC)
    log = [{"at": at.isoformat(), "status": "PENDING", "step": "accept", "message": "drift: BIND serves …"}]
    return Row(
        f"r-{domain}-{rtype}", "acct-a", "drift", "restore", rtype, domain, "x", {}, "COMPLETED", log, at,
        None, None, None,
    )  # fmt: skip


def hand(domain: str, rtype: str, sent: float, **outcome: Any) -> dict[str, Any]:
    """A `hand` history event sent at wall time `sent` (answered a second later)."""
    fields = {"action": "change", "domain": domain, "rtype": rtype, "value": "192.0.2.201", "ttl": 120}
    return {"seq": 0, "kind": "hand", "t": 11.0, "wall": sent + 1.0, "sent": 10.0, **fields, **outcome}


def facts_with(*rows: Row) -> Facts:
    return Facts({row.id: row for row in rows}, [], {}, [], {}, {})


def drift_violations(facts: Facts, events: list[dict[str, Any]]) -> list[str]:
    report = Report()
    check_drift_requests(facts, events, report)
    return [v.message for v in report.violations]


def test_drift_at_a_record_set_changed_by_hand_before_is_no_violation() -> None:
    events = [hand("web.example.test", "A", T0, rcode="NOERROR")]
    assert drift_violations(facts_with(drift_row("web.example.test", "A", T0 + 12)), events) == []


def test_drift_where_nobody_changed_anything_by_hand_is_a_violation() -> None:
    events = [hand("web.example.test", "A", T0, rcode="NOERROR")]
    found = drift_violations(facts_with(drift_row("shop.example.test", "A", T0 + 12)), events)
    assert len(found) == 1 and "A shop.example.test, which nobody changed by hand" in found[0]


def test_drift_raised_before_the_hand_change_or_after_a_refused_one_is_a_violation() -> None:
    before = [hand("web.example.test", "A", T0 + 30, rcode="NOERROR")]
    assert drift_violations(facts_with(drift_row("web.example.test", "A", T0)), before)
    refused = [hand("web.example.test", "A", T0, rcode="NXRRSET")]
    assert drift_violations(facts_with(drift_row("web.example.test", "A", T0 + 12)), refused)


def test_a_hand_change_without_an_answer_may_have_landed() -> None:
    events = [
        hand("web.example.test", "A", T0, error="Timeout"),
        hand("mail.example.test", "A", T0, rcode="NXRRSET"),
    ]
    events.append({**hand("lab.example.test", "TXT", T0), "skipped": "dnsorch keeps nothing there"})
    assert touched(events) == {("web.example.test", "A")}
    assert drift_violations(facts_with(drift_row("web.example.test", "A", T0 + 5)), events) == []


def test_drift_after_an_operators_resolve_of_that_record_set_is_no_violation() -> None:
    """`resolve` records what the request asked for, DNS or not (docs/operators.md): the soak's
    operator resolves at random, so a heal may follow (SEED=11 N=300: a TXT resolved while it
    waited for its turn behind a CNAME at the same name)."""
    resolved_row = Row(
        "r-txt", "acct-b", "api", "create", "TXT", "alias.example.test", "soak-41", {}, "COMPLETED", [],
        datetime.fromtimestamp(T0, UTC), None, None, None,
    )  # fmt: skip
    drift = drift_row("alias.example.test", "TXT", T0 + 20)
    resolve = {
        "seq": 1, "kind": "call", "t": 12.0, "wall": T0 + 5, "sent": 10.0, "method": "POST",
        "path": "/api/v2/dns/requests/r-txt/actions/resolve", "status": 200,
    }  # fmt: skip
    assert drift_violations(facts_with(resolved_row, drift), []) != []
    assert drift_violations(facts_with(resolved_row, drift), [resolve]) == []
    late = {**resolve, "wall": T0 + 40, "t": 10.0}
    assert drift_violations(facts_with(resolved_row, drift), [late]) != []


def test_a_resolve_that_got_no_answer_may_have_reached_the_request() -> None:
    """The API killed mid-call (SEED=11, fewer-round-trips branch): the resolve reached the
    workflow, the client saw only a broken connection. Refused ones (4xx, a 503 before anything
    was sent on) still prove nothing."""
    resolved_row = Row(
        "r-cname", "acct-c", "kafka", "create", "CNAME", "web.example.test", "shop.example.test", {},
        "COMPLETED", [], datetime.fromtimestamp(T0, UTC), None, None, None,
    )  # fmt: skip
    drift = drift_row("web.example.test", "CNAME", T0 + 20)
    call = {
        "seq": 1, "kind": "call", "t": 12.0, "wall": T0 + 5, "sent": 10.0, "method": "POST",
        "path": "/api/v2/dns/requests/r-cname/actions/resolve",
    }  # fmt: skip
    unanswered = {**call, "error": "RemoteProtocolError"}
    refused = {**call, "status": 409, "answer": {"error": {"code": "illegal_transition"}}}
    assert drift_violations(facts_with(resolved_row, drift), [unanswered]) == []
    assert drift_violations(facts_with(resolved_row, drift), [refused]) != []
