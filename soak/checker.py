"""The invariants, checked once the run has settled, each violation with the history that shows it.

What it reads: the history (what clients were told, what people changed by hand), PostgreSQL
(`dns_requests`, `dns_records`, `dead_letters`, `name_transfers`), Temporal (every
DnsProvisioningWorkflow execution) and both DNS servers. Pure reading: it changes nothing. The
invariants about hand changes and drift are soak/drift_check.py.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dnsorch.dns import parse_values
from soak.drift_check import check_drift_requests, check_unmanaged_left_alone, touched
from soak.facts import Facts, Row, final_at, record_summary, served_rrset
from soak.history import excerpt, submits_for
from soak.ownership_model import check_ownership

FINAL = {"COMPLETED", "FAILED", "CANCELLED", "REJECTED", "ROLLED_BACK"}


@dataclass
class Violation:
    check: str
    message: str
    evidence: list[str] = field(default_factory=list)


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        check: str,
        message: str,
        events: list[dict[str, Any]] | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.violations.append(Violation(check, message, [*(extra or []), *excerpt(events or [])]))


def check(facts: Facts, events: list[dict[str, Any]]) -> Report:
    report = Report()
    accepted = accepted_ids(events)
    check_accepted(facts, events, accepted, report)
    check_unaccepted(facts, events, accepted, report)
    check_workflows(facts, events, report)
    by_hand = touched(events)
    check_dns(facts, events, by_hand, report)
    check_final_status_vs_dns(facts, events, by_hand, report)
    check_drift_requests(facts, events, report)
    check_unmanaged_left_alone(facts, events, report)
    for message, evidence in check_ownership(facts):
        report.add("ownership", message, extra=evidence)
    return report


# ---- what clients were told ------------------------------------------------------------------


@dataclass
class Accepted:
    op: int
    door: str
    request_id: str
    event: dict[str, Any]


def accepted_ids(events: list[dict[str, Any]]) -> dict[str, list[Accepted]]:
    """request id → every answer that accepted it (a 2xx, or a Kafka message produced)."""
    doors = {e["op"]: e["door"] for e in events if e["kind"] == "op" and e.get("op_kind") == "submit"}
    found: dict[str, list[Accepted]] = defaultdict(list)
    for e in events:
        if e["kind"] == "call" and e.get("method") == "POST" and e.get("path") in CREATE_PATHS:
            status = e.get("status")
            if isinstance(status, int) and 200 <= status < 300 and isinstance(e.get("answer"), dict):
                rid = str(e["answer"]["request_id"])
                found[rid].append(Accepted(e["op"], doors.get(e["op"], "?"), rid, e))
        elif e["kind"] == "produce" and "offset" in e:
            found[e["request_id"]].append(Accepted(e["op"], "kafka", e["request_id"], e))
    return found


CREATE_PATHS = {"/api/v1/dns/create", "/api/v2/dns/requests"}


def op_events(events: list[dict[str, Any]], ops: set[int]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("op") in ops and e["kind"] in ("op", "call", "produce", "skipped")]


def check_accepted(
    facts: Facts, events: list[dict[str, Any]], accepted: dict[str, list[Accepted]], report: Report
) -> None:
    """Every accepted request has exactly one row, one workflow and a final status."""
    for rid, answers in accepted.items():
        ops = {a.op for a in answers}
        kafka_only = all(a.door == "kafka" for a in answers)
        row = facts.rows.get(rid)
        if row is None:
            dead = [a for a in answers if a.door == "kafka" and facts.dead_letter(a.event)]
            if kafka_only and len(dead) == len(answers):
                continue  # every message naming it was dead-lettered: refused, not accepted
            report.add("accepted_once", f"request {rid} was accepted but has no row", op_events(events, ops))
            continue
        runs = facts.workflows.get(row.workflow_id or f"dns-request-{rid}", [])
        if len(runs) != 1:
            report.add(
                "accepted_once",
                f"request {rid} has {len(runs)} workflow executions",
                op_events(events, ops),
                [f"runs: {[(r.run_id, r.status) for r in runs]}"],
            )
        if row.status not in FINAL:
            report.add(
                "accepted_once",
                f"request {rid} ends {row.status}, not a final status",
                op_events(events, ops),
                row.log_tail(),
            )
        for answer in answers:
            body = answer.event.get("body") or answer.event.get("value") or {}
            if body and not row.matches(body):
                if answer.door == "kafka" and facts.dead_letter(answer.event):
                    continue  # same request_id, another body: dead-lettered, as docs/kafka.md says
                report.add(
                    "accepted_once",
                    f"request {rid} answered a body it does not hold ({row.summary()})",
                    op_events(events, ops),
                )
    by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
    key_ops: dict[tuple[str, str], set[int]] = defaultdict(set)
    for e in events:
        if e["kind"] == "call" and e.get("path") == "/api/v2/dns/requests" and e.get("method") == "POST":
            key = (e["body"]["context"]["account_id"], (e.get("headers") or {}).get("Idempotency-Key", ""))
            key_ops[key].add(e["op"])
            if isinstance(e.get("status"), int) and 200 <= e["status"] < 300:
                by_key[key].add(str(e["answer"]["request_id"]))
    for key, ids in by_key.items():
        if len(ids) > 1:
            report.add(
                "idempotency",
                f"Idempotency-Key {key[1]} of {key[0]} answered {len(ids)} requests: {sorted(ids)}",
                op_events(events, key_ops[key]),
            )


def check_unaccepted(
    facts: Facts, events: list[dict[str, Any]], accepted: dict[str, list[Accepted]], report: Report
) -> None:
    """Nothing unaccepted was stored or applied: every api/kafka row is some client's accepted request,
    or one whose answer was lost (the connection died, or the producer failed after writing)."""
    lost = [
        e
        for e in events
        if (e["kind"] == "call" and "error" in e) or (e["kind"] == "produce" and "error" in e)
    ]
    lost += [
        e
        for e in events
        if e["kind"] == "call" and e.get("path") in CREATE_PATHS and e.get("status") in (500, 502, 504)
    ]
    for rid, row in facts.rows.items():
        if row.source not in ("api", "kafka") or rid in accepted:
            continue
        unanswered = [e for e in lost if row.matches(e.get("body") or e.get("value") or {})]
        if unanswered:
            report.notes.append(
                f"request {rid} ({row.summary()}) was accepted while its client saw no answer"
            )
            continue
        report.add(
            "unaccepted",
            f"request {rid} ({row.summary()}, {row.status}) was stored, no client was told so",
            extra=row.log_tail(),
        )


def check_workflows(facts: Facts, events: list[dict[str, Any]], report: Report) -> None:
    """One execution per workflow id, each with a row, none still open now (past every deadline)."""
    row_workflows = {row.workflow_id or f"dns-request-{rid}": rid for rid, row in facts.rows.items()}
    for workflow_id, runs in facts.workflows.items():
        rid = row_workflows.get(workflow_id)
        if rid is None:
            report.add("workflows", f"workflow {workflow_id} has no row", extra=[str(r) for r in runs])
        if len(runs) > 1:
            report.add(
                "workflows", f"workflow {workflow_id} ran {len(runs)} times", extra=[str(r) for r in runs]
            )
        for run in runs:
            if run.status == "RUNNING":
                row = facts.rows.get(rid or "")
                report.add(
                    "deadline",
                    f"workflow {workflow_id} is still open ({row.status if row else 'no row'}) "
                    f"after every deadline passed",
                    story(events, {rid or "-"}, events_for(events, rid)),
                    row.log_tail() if row else [],
                )
        closed = [run.status for run in runs if run.status != "RUNNING"]
        row = facts.rows.get(rid or "")
        if row is not None and row.status not in FINAL and len(closed) == len(runs):
            # Any source, PTR and drift children included: a workflow that closed without a final
            # status leaves its row, and its claim on the name, behind for good.
            report.add(
                "workflows",
                f"workflow {workflow_id} closed {'/'.join(closed)} but request {rid} ({row.source}) "
                f"rests at {row.status}",
                story(events, {rid or "-"}, events_for(events, rid)),
                row.log_tail(),
            )
    for workflow_id, rid in row_workflows.items():
        if workflow_id not in facts.workflows:
            report.add(
                "workflows", f"request {rid} has no workflow {workflow_id}", extra=facts.rows[rid].log_tail()
            )


def events_for(events: list[dict[str, Any]], rid: str | None) -> list[dict[str, Any]]:
    if rid is None:
        return []
    ops = {
        e["op"]
        for e in events
        if e["kind"] in ("call", "produce")
        and rid in str(e.get("answer", "")) + str(e.get("request_id", "")) + str(e.get("path", ""))
    }
    return op_events(events, ops)


# ---- DNS -------------------------------------------------------------------------------------


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


def story(events: list[dict[str, Any]], ids: set[str], shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`shown` plus every operator call that named one of `ids`, in history order."""
    acts = [e for e in events if e["kind"] == "call" and any(i in e.get("path", "") for i in ids)]
    return sorted({e["seq"]: e for e in [*shown, *acts]}.values(), key=lambda e: e["seq"])


def check_final_status_vs_dns(
    facts: Facts, events: list[dict[str, Any]], by_hand: set[tuple[str, str]], report: Report
) -> None:
    """The last request to end on a record set agrees with what is served: COMPLETED (create,
    update) means its row is current, a COMPLETED delete means no current row, ROLLED_BACK means the
    plan's snapshot is served. Earlier requests were superseded: what they did is not checkable now.
    A snapshot at a record set changed by hand may be the person's values, which the heal replaced
    since: not checked there."""
    last: dict[tuple[str, str], Row] = {}
    for row in sorted(
        facts.rows.values(), key=lambda r: final_at(r) or datetime.min.replace(tzinfo=r.created_at.tzinfo)
    ):
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


def uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
