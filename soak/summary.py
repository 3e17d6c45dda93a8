"""The soak's figures: requests by door and outcome (and those of time-aware stories), faults by
kind, wall time, slowest request, recovery per fault kind."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from soak.facts import Facts, final_at


def outcome_of(op: int, door: str, facts: Facts, events: list[dict[str, Any]], ids: dict[int, str]) -> str:
    rid = ids.get(op)
    if rid is not None:
        row = facts.rows.get(rid)
        if row is not None:
            return row.status
        produced = [e for e in events if e["kind"] == "produce" and e.get("op") == op and "offset" in e]
        if produced and (reason := facts.dead_letter(produced[-1])):
            return "dead letter: " + reason.split(":")[0][:50]
        return "accepted, no row"
    answers = [e for e in events if e.get("op") == op and e["kind"] in ("call", "produce")]
    if not answers:
        return "not sent"
    last = answers[-1]
    if "error" in last:
        return f"no answer ({str(last['error'])[:30]})"
    answer = last.get("answer")
    code = answer.get("error", {}).get("code", "") if isinstance(answer, dict) else ""
    return f"{last.get('status')} {code}".strip()


def hand_outcome(event: dict[str, Any]) -> str:
    if "skipped" in event:
        return "skipped"
    return str(event.get("rcode") or event.get("error"))


def summarise(facts: Facts, events: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    ids: dict[int, str] = {}
    for e in events:
        if e["kind"] == "call" and e.get("path") in ("/api/v1/dns/create", "/api/v2/dns/requests"):
            if isinstance(e.get("status"), int) and 200 <= e["status"] < 300:
                ids[e["op"]] = str(e["answer"]["request_id"])
        elif e["kind"] == "produce" and "offset" in e:
            ids[e["op"]] = e["request_id"]
    by_door: dict[str, Counter[str]] = defaultdict(Counter)
    timed: dict[str, Counter[str]] = defaultdict(Counter)
    timed_ends: list[str] = []
    for e in events:
        if e["kind"] == "op" and e.get("op_kind") == "submit":
            outcome = outcome_of(e["op"], e["door"], facts, events, ids)
            by_door[e["door"]][outcome] += 1
            if e.get("timed"):
                timed[f"{e['timed']} {e['operation']}"][outcome] += 1
                row = facts.rows.get(ids.get(e["op"], ""))
                if row is not None and row.status != "COMPLETED":
                    timed_ends.append(f"{row.summary()}: {(row.log_tail(1) or [''])[0]}")
        elif e["kind"] == "op" and e.get("timed"):
            timed[e["timed"]][e["op_kind"]] += 1
    actions: Counter[str] = Counter()
    for e in events:
        if e["kind"] == "call" and ("/actions/" in e.get("path", "") or "update_status" in e.get("path", "")):
            name = e["path"].rsplit("/", 1)[-1] if "/actions/" in e["path"] else f"v1:{e['body']['status']}"
            actions[f"{name} {e.get('status', e.get('error'))}"] += 1
    sources = Counter(row.source for row in facts.rows.values())
    slowest = None
    for row in facts.rows.values():
        done = final_at(row)
        if done is not None and (slowest is None or done - row.created_at > slowest[0]):
            slowest = (done - row.created_at, row)
    return {
        "requests_by_door_and_outcome": {door: dict(c.most_common()) for door, c in sorted(by_door.items())},
        "time_aware_by_outcome": {kind: dict(c.most_common()) for kind, c in sorted(timed.items())},
        "time_aware_not_completed": timed_ends[:30],
        "rows_by_source": dict(sources),
        "operator_calls": dict(sorted(actions.items())),
        "faults_by_kind": dict(Counter(e["fault"] for e in events if e["kind"] == "fault_start")),
        "hand_changes": dict(
            Counter(f"{e['action']} {hand_outcome(e)}" for e in events if e["kind"] == "hand")
        ),
        "expiry_deletes_by_status": dict(
            Counter(r.status for r in facts.rows.values() if r.source == "expiry")
        ),
        "drift_requests_by_status": dict(
            Counter(r.status for r in facts.rows.values() if r.source == "drift")
        ),
        "roles_died_on_their_own": [(e["role"], e["returncode"]) for e in events if e["kind"] == "role_died"],
        "wall_seconds": round(wall, 1),
        "slowest_request": None
        if slowest is None
        else {
            "seconds": round(slowest[0].total_seconds(), 1),
            "request": slowest[1].summary(),
        },
        "recovery_by_fault_kind": recovery(facts, events),
        "settled": any(e["kind"] == "settled" for e in events),
    }


def recovery(facts: Facts, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per fault kind: the outage, the API's readiness after it, and the time from the fault's end
    to the next request that reached COMPLETED (the system doing useful work again)."""
    completions = sorted(
        d.timestamp()
        for row in facts.rows.values()
        if row.status == "COMPLETED" and (d := final_at(row)) is not None
    )
    per_kind: dict[str, list[tuple[float, float, float | None]]] = defaultdict(list)
    starts = {e["seq"]: e for e in events if e["kind"] == "fault_start"}
    for e in events:
        if e["kind"] != "fault_recovered":
            continue
        end = next(x for x in events if x["kind"] == "fault_end" and x["fault_seq"] == e["fault_seq"])
        after = next((c - end["wall"] for c in completions if c >= end["wall"]), None)
        per_kind[starts[e["fault_seq"]]["fault"]].append((e["outage"], e["api_ready_after"], after))
    result = {}
    for kind, seen in sorted(per_kind.items()):
        firsts = [a for _o, _r, a in seen if a is not None]
        result[kind] = {
            "count": len(seen),
            "outage_s_max": round(max(o for o, _r, _a in seen), 1),
            "api_ready_after_s_max": round(max(r for _o, r, _a in seen), 1),
            "next_completion_after_s_median": round(statistics.median(firsts), 1) if firsts else None,
            "next_completion_after_s_max": round(max(firsts), 1) if firsts else None,
        }
    return result


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
