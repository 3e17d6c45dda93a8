"""Drift requests: a drifted managed record set becomes a `restore` request of its owner (source
`drift`; a PTR's owner is its forward record's), healed at once or held in NEEDS_ATTENTION for an
operator, per DRIFT_POLICY. What drifted is found by dnsorch/dns/comparison.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from dnsorch.contracts import DRIFT_SOURCE, DnsRequestSpec, DriftedRRset

POLICIES = ("heal", "raise")
_REQUEST_NAMESPACE = uuid.UUID("5b7e0c52-9d0e-4f61-8a4c-0f3d2c7b9e14")


def request_id_for(zone: str, drift: DriftedRRset, scan_run_id: str) -> str:
    """One request per record set and scan: a retried start derives the same id, which Temporal refuses
    to start twice."""
    return str(
        uuid.uuid5(_REQUEST_NAMESPACE, f"{zone}\x00{drift.domain}\x00{drift.record_type}\x00{scan_run_id}")
    )


def attention_reason(drift: DriftedRRset) -> str:
    """Why a raised drift request waits: each server that differs, and what dnsorch recorded."""
    return f"drift: {drift.difference()}"


def restore_spec(drift: DriftedRRset, request_id: str, accepted_at: datetime) -> DnsRequestSpec:
    """The request that makes the servers serve the record set as recorded again (`restore`: no
    prerequisite, so a record set deleted behind dnsorch's back is re-created and a changed one replaced)."""
    record = drift.record
    assert record is not None, "only a managed record set can be restored"
    return DnsRequestSpec(
        request_id=request_id,
        account_id=record.account_id,
        source=DRIFT_SOURCE,
        record_type=drift.record_type,
        domain=drift.domain,
        zone=drift.zone,
        target=record.target,
        ttl=record.ttl,
        priority=record.priority,
        comment=record.comment,
        extra_config=dict(record.extra_config),
        operation="restore",
        accepted_at=accepted_at,
    )
