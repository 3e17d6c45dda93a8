"""What clients were told against what was stored: every accepted request has exactly one row, one
workflow and a final status; one Idempotency-Key answers one request; nothing unaccepted was stored."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from soak.facts import FINAL, Facts
from soak.history import op_events
from soak.report import Report

CREATE_PATHS = {"/api/v1/dns/create", "/api/v2/dns/requests"}


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
