"""Temporal against PostgreSQL: one execution per workflow id, each with a row, none still open after
every deadline, and none closed while its request rests at a status that is not final."""

from __future__ import annotations

from typing import Any

from soak.facts import FINAL, Facts
from soak.history import events_for, story
from soak.report import Report


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
        kept_in_apply = facts.rows[rid].source == "ptr" and facts.rows[rid].status == "COMPLETED"
        if workflow_id not in facts.workflows and not kept_in_apply:  # such a PTR has no workflow
            report.add(
                "workflows", f"request {rid} has no workflow {workflow_id}", extra=facts.rows[rid].log_tail()
            )
