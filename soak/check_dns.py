"""DNS against PostgreSQL: both servers serve what `dns_records` says, and the last request to end on
a record set agrees with what is served."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dnsorch.dns import parse_values
from soak.facts import Facts, Row, final_at, record_summary, served_rrset
from soak.history import story, submits_for
from soak.report import Report


def check_dns(
    facts: Facts, events: list[dict[str, Any]], by_hand: set[tuple[str, str]], report: Report
) -> None:
    """Both servers serve exactly what `dns_records` says, for every record set dnsorch keeps or
    was asked for (PTRs included); nothing is served where dnsorch keeps nothing, unless a person
    put it there by hand (soak/drift_check.py: what dnsorch keeps, it heals; the rest is nobody's)."""
    for (domain, rtype), expected in sorted(facts.expected.items()):
        current = facts.current_rows(domain, rtype)
        if len(current) > 1:
            report.add(
                "dns",
                f"{domain} {rtype} has {len(current)} current dns_records rows",
                submits_for(events, domain, rtype),
                [record_summary(c) for c in current],
            )
        wrong: list[str] = []
        for label, server in facts.servers.items():
            served = served_rrset(server, domain, rtype)
            if served.error:
                wrong.append(f"{label} could not be asked ({served.error})")
            elif served.values != expected.values or (expected.values and served.ttl != expected.ttl):
                wrong.append(f"{label} serves {served.text()} (TTL {served.ttl})")
        if wrong and not expected.values and (domain, rtype) in by_hand:
            report.notes.append(
                f"{domain} {rtype}: {'; '.join(wrong)}, left by hand where dnsorch keeps nothing"
            )
        elif wrong:
            rows = facts.rows_for(domain, rtype)
            healed = " (changed by hand, not healed)" if (domain, rtype) in by_hand else ""
            report.add(
                "dns",
                f"{domain} {rtype}: {'; '.join(wrong)}; "
                f"dns_records says {expected.text()} (TTL {expected.ttl}){healed}",
                story(events, {r.id for r in rows}, submits_for(events, domain, rtype)),
                [row.summary(with_log=True) for row in rows[-6:]],
            )


def check_final_status_vs_dns(
    facts: Facts, events: list[dict[str, Any]], by_hand: set[tuple[str, str]], report: Report
) -> None:
    """The last request to change a record set agrees with what is served: COMPLETED (create,
    update) means its row is current, a COMPLETED delete means no current row, ROLLED_BACK means the
    plan's snapshot is served. Earlier requests were superseded: what they did is not checkable now.
    "Last" is by when the change took effect (took_effect_at), not by when the request ended.
    A snapshot at a record set changed by hand may be the person's values, which the heal replaced
    since: not checked there."""
    served_at = {str(r.request_id): r.provisioned_at for r in facts.records}
    last: dict[tuple[str, str], Row] = {}
    for row in sorted(facts.rows.values(), key=lambda r: took_effect_at(r, served_at)):
        if row.status in ("COMPLETED", "ROLLED_BACK") and not row.dry_run:
            last[(row.domain, row.record_type)] = row
    for (domain, rtype), row in last.items():
        current = facts.current_rows(domain, rtype)
        if row.status == "COMPLETED":
            if row.operation == "delete" and current:
                report.add(
                    "status_vs_dns",
                    f"{row.summary()} ended COMPLETED but {domain} {rtype} still has a row",
                    submits_for(events, domain, rtype),
                    [record_summary(c) for c in current],
                )
            elif row.operation != "delete" and [str(c.request_id) for c in current] != [row.id]:
                report.add(
                    "status_vs_dns",
                    f"{row.summary()} ended COMPLETED last but is not the current row",
                    submits_for(events, domain, rtype),
                    [record_summary(c) for c in current] + row.log_tail(),
                )
        else:
            snapshot = row.snapshot()
            if snapshot is None or (domain, rtype) in by_hand:
                why = "changed by hand" if snapshot is not None else "without a readable snapshot"
                report.notes.append(f"{row.summary()}: ROLLED_BACK {why}: not checked")
                continue
            served = served_rrset(facts.servers["BIND"], domain, rtype)
            if served.error or served.values != frozenset(parse_values(rtype, snapshot)):
                report.add(
                    "status_vs_dns",
                    f"{row.summary()} ended ROLLED_BACK last, but BIND serves "
                    f"{served.text()}, not the snapshot {snapshot}",
                    submits_for(events, domain, rtype),
                    row.log_tail(),
                )


def took_effect_at(row: Row, served_at: dict[str, datetime]) -> datetime:
    """When the request's change took effect. A ROLLED_BACK request's: when it ended (the rollback).
    A COMPLETED one's: when DNS was seen serving it, its `dns_records` row's `provisioned_at`, else
    (a delete keeps no row) its last verify. That comes long before the end when the request then
    waited for an operator over its PTR while a later request changed the name: it ends COMPLETED
    after the later one, and `dns_records` keeps its row retired (served_records.apply_record).
    Seen with ENGINE=server SEED=202 N=1000; ordering by the end called it the last change."""
    ended = final_at(row) or datetime.min.replace(tzinfo=row.created_at.tzinfo)
    if row.status != "COMPLETED":
        return ended
    if row.id in served_at:
        return served_at[row.id]
    verified = [e["at"] for e in row.log if e.get("step") == "verify" and e.get("at")]
    return datetime.fromisoformat(verified[-1]) if verified else ended
