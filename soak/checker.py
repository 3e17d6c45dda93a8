"""The invariants, checked once the run has settled, each violation with the history that shows it.

What it reads: the history (what clients were told, what people changed by hand), PostgreSQL
(`dns_requests`, `dns_records`, `dead_letters`, `name_transfers`), Temporal (every
DnsProvisioningWorkflow execution) and both DNS servers. Pure reading: it changes nothing. One
module per family of checks: check_requests (accepted once, idempotency, nothing unaccepted),
check_workflows (one execution each, none open past its deadline), check_dns (served as
`dns_records` says; final statuses against DNS), drift_check (hand changes and drift),
ownership_model (who may change a name), check_timed (scheduled changes, TTL dances, expiring
records, freeze windows).
"""

from __future__ import annotations

from typing import Any

from soak.check_dns import check_dns, check_final_status_vs_dns
from soak.check_requests import accepted_ids, check_accepted, check_unaccepted
from soak.check_timed import check_timed
from soak.check_workflows import check_workflows
from soak.drift_check import check_drift_requests, check_unmanaged_left_alone, touched
from soak.facts import Facts
from soak.ownership_model import check_ownership
from soak.report import Report, Violation

__all__ = ["Report", "Violation", "check"]


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
    check_timed(facts, events, report)
    for message, evidence in check_ownership(facts):
        report.add("ownership", message, extra=evidence)
    return report
