"""The invariants about changes made by hand and drift.

The soak stack heals drift (DRIFT_POLICY=heal, a scan every few seconds) and the run waits for one
more scan after everything settled, so the rule is simple:
- a record set a person changed by hand and dnsorch keeps is served as `dns_records` says at the end
  (check_dns.check_dns, as for every other record set: the heal must have happened);
- where dnsorch keeps nothing after a hand change, what the person left is nobody's: not checked;
- a record set nobody manages, added by hand at a free name, is served as the person left it
  (drift reports it and never touches it);
- a drift request is raised only at a record set a person changed by hand before it: one anywhere
  else means dnsorch itself left DNS and `dns_records` apart (the scan after settling finds those).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import dns.rdata
import dns.rdataclass

from dnsorch.contracts import DRIFT_SOURCE
from soak.facts import Facts, served_rrset
from soak.history import submits_for
from soak.report import Report

FAULT_EVENTS = ("fault_start", "fault_end", "role_died")
LOOK_BACK = 120.0
"""Seconds of faults before a drift request shown beside it (a lagging secondary, a restart)."""


@dataclass(frozen=True)
class HandChange:
    domain: str
    rtype: str
    action: str
    value: str | None
    sent_wall: float
    applied: bool | None
    """True: BIND answered NOERROR; False: it refused (a prerequisite failed); None: no answer."""


def hand_changes(events: list[dict[str, Any]]) -> list[HandChange]:
    """Every hand change that was sent, in history order."""
    found = []
    for e in events:
        if e["kind"] != "hand" or "skipped" in e:
            continue
        applied = None if "error" in e else e.get("rcode") == "NOERROR"
        sent_wall = e["wall"] - (e["t"] - e["sent"])
        found.append(HandChange(e["domain"], e["rtype"], e["action"], e.get("value"), sent_wall, applied))
    return found


def touched(events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Record sets a hand change reached, or may have reached (no answer)."""
    return {(c.domain, c.rtype) for c in hand_changes(events) if c.applied is not False}


def resolved(facts: Facts, events: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    """(domain, type, when sent) of every request an operator resolved (v2 `resolve`, v1 COMPLETED).
    A resolve says "DNS was fixed outside; record what it asked for" (docs/operators.md): the soak's
    operator says so at random, so dnsorch may then record what DNS does not serve, and drift heals
    it. Seen with SEED=11 N=300: a TXT resolved while it waited for its turn behind a CNAME. A call
    that got no answer (the API killed mid-call) may have reached the request too, so it counts."""
    found = []
    for e in events:
        path, status = e.get("path", ""), e.get("status")
        answered = isinstance(status, int) and 200 <= status < 300
        if e["kind"] != "call" or not (answered or "error" in e):
            continue
        if path.endswith("/actions/resolve"):
            rid = path.split("/")[-3]
        elif "/update_status/" in path and (e.get("body") or {}).get("status") == "COMPLETED":
            rid = path.rsplit("/", 1)[-1]
        else:
            continue
        row = facts.rows.get(rid)
        if row is not None:
            found.append((row.domain, row.record_type, e["wall"] - (e["t"] - e.get("sent", e["t"]))))
    return found


def check_drift_requests(facts: Facts, events: list[dict[str, Any]], report: Report) -> None:
    """No drift request at a record set nobody changed by hand (or resolved) before it was raised."""
    changes = [(c.domain, c.rtype, c.sent_wall) for c in hand_changes(events) if c.applied is not False]
    changes += resolved(facts, events)
    for row in sorted(facts.rows.values(), key=lambda r: r.created_at):
        if row.source != DRIFT_SOURCE:
            continue
        raised = row.created_at.timestamp()
        if any(
            (domain, rtype) == (row.domain, row.record_type) and sent <= raised
            for domain, rtype, sent in changes
        ):
            continue
        faults = [
            e for e in events if e["kind"] in FAULT_EVENTS and raised - LOOK_BACK <= e["wall"] <= raised
        ]
        report.add(
            "drift",
            f"drift raised for {row.record_type} {row.domain}, which nobody changed by hand "
            f"({row.summary()})",
            [*faults, *submits_for(events, row.domain, row.record_type)],
            row.log_tail(6),
        )


def check_unmanaged_left_alone(facts: Facts, events: list[dict[str, Any]], report: Report) -> None:
    """A record set added by hand where nobody asks dnsorch for anything is still served as added."""
    by_key: dict[tuple[str, str], list[HandChange]] = defaultdict(list)
    for change in hand_changes(events):
        by_key[(change.domain, change.rtype)].append(change)
    for (domain, rtype), changes in sorted(by_key.items()):
        if (domain, rtype) in facts.expected or any(c.action != "add" or c.applied is None for c in changes):
            continue  # dnsorch was asked for it, or a change without an answer: not knowable
        applied = [c for c in changes if c.applied]
        if not applied or applied[-1].value is None:
            continue
        want = frozenset({dns.rdata.from_text(dns.rdataclass.IN, rtype, applied[-1].value)})
        for label, server in facts.servers.items():
            served = served_rrset(server, domain, rtype)
            if not served.error and served.values != want:
                report.add(
                    "unmanaged",
                    f"{domain} {rtype}, added by hand and managed by nobody, is served by {label} as "
                    f"{served.text()}, not as the person left it ({applied[-1].value})",
                    submits_for(events, domain, rtype),
                )
