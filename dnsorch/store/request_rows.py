"""A request's row in `dns_requests`: its first write, its log lines and status changes, and reads.

A status change and its outbox row (`request_events`, published by consumer/events.py) commit in
one transaction. Log lines carry ids the workflow made deterministically, so a retried write finds
its line and adds nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col
from sqlmodel import select as select_model

from dnsorch.contracts import DnsRequestSpec, KeptPtr, LogLine, LogStep, RecordRow, RequestStatus
from dnsorch.store.models import DnsRecord, DnsRequest, RequestEvent
from dnsorch.store.name_claims import release_names
from dnsorch.store.served_records import apply_record

ACCEPTED_ENTRY_ID = "accepted"


def log_entry(
    entry_id: str,
    at: datetime,
    message: str,
    *,
    status: str | None = None,
    step: str = "",
    actor: str = "workflow",
    plan: dict[str, Any] | None = None,
    propagation: dict[str, float] | None = None,
    not_before: datetime | None = None,
    approver: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": entry_id,
        "at": at.isoformat(),
        "step": step,
        "actor": actor,
        "message": message,
    }
    if status is not None:
        entry["status"] = status
    if plan is not None:
        entry["plan"] = plan
    if propagation is not None:
        entry["propagation"] = propagation
    if not_before is not None:
        entry["not_before"] = not_before.isoformat()
    if approver is not None:
        entry["approver"] = approver  # the approving API key's id (never the key)
    return entry


def request_values(spec: DnsRequestSpec, accepted_at: datetime) -> dict[str, Any]:
    """The request's row as first written: PENDING, with the one "accepted" log line."""
    first = log_entry(
        ACCEPTED_ENTRY_ID,
        accepted_at,
        f"request accepted from {spec.source}",
        status=RequestStatus.PENDING,
        step="accept",
        actor=spec.source,
    )
    return {
        "id": uuid.UUID(spec.request_id),
        "account_id": spec.account_id,
        "source": spec.source,
        "record_type": spec.record_type,
        "domain": spec.domain,
        "target": spec.target,
        "comment": spec.comment,
        "config": {
            "ttl": spec.ttl,
            "priority": spec.priority,
            "extra_config": spec.extra_config,
            **({"dry_run": True} if spec.dry_run else {}),
            **({"not_before": spec.not_before.isoformat()} if spec.not_before else {}),
            **({"submitted_by": spec.submitted_by} if spec.submitted_by else {}),
            **({"emergency": True} if spec.emergency else {}),
            **({"ttl_dance": True} if spec.ttl_dance else {}),
        },
        "status": RequestStatus.PENDING,
        "log_messages": [first],
        "workflow_id": spec.workflow_id,
        "operation": spec.operation,
        "idempotency_key": spec.idempotency_key,
        "request_hash": spec.request_hash,
        "message_key": spec.message_key,
        "event_seq": 1,
        "expires_at": spec.expires_at,
        "created_at": accepted_at,
        "updated_at": accepted_at,
    }


# Built once and executed with each row's values: building an INSERT of two dozen values per call
# cost more CPU than PostgreSQL took to run it (every accept makes one).
_INSERT_REQUEST = insert(DnsRequest).on_conflict_do_nothing()
"""No arbiter index on purpose: two accepts of one request racing can meet on `workflow_id` (derived
from the id, unique too) before `id`, and that must be "the row exists", not a UniqueViolation."""
_INSERT_EVENT = insert(RequestEvent)


def insert_request(conn: Connection, spec: DnsRequestSpec, accepted_at: datetime) -> bool:
    """Insert the request row unless it exists; True when this call created it."""
    values = request_values(spec, accepted_at)
    if conn.execute(_INSERT_REQUEST, values).rowcount != 1:
        return False
    _add_event(
        conn, spec.request_id, 1, RequestStatus.PENDING, values["log_messages"][0]["message"], accepted_at
    )
    return True


def _add_event(
    conn: Connection, request_id: str, sequence: int, status: str, reason: str, at: datetime
) -> None:
    """Outbox row for the events topic, in the caller's transaction with the status change itself."""
    conn.execute(
        _INSERT_EVENT,
        {
            "request_id": uuid.UUID(request_id),
            "sequence": sequence,
            "status": status,
            "reason": reason,
            "occurred_at": at,
        },
    )


_APPEND_LOG = text(
    """
    UPDATE dns_requests
       SET log_messages = log_messages || CAST(:entry AS jsonb),
           status = COALESCE(CAST(:status AS varchar), status),
           event_seq = event_seq + CASE WHEN CAST(:status AS varchar) IS NULL THEN 0 ELSE 1 END,
           updated_at = now()
     WHERE id = :id
       AND NOT log_messages @> CAST(:probe AS jsonb)
    RETURNING event_seq
    """
)


def append_step(conn: Connection, step: LogStep) -> bool:
    """Append a log line (and set the status, with its outbox event) once; False when already there.
    The lines the workflow kept back (`step.earlier`) go first, in order, each once too."""
    for line in step.earlier:
        _append_line(conn, line)
    return _append_line(conn, step)


def _append_line(conn: Connection, step: LogLine) -> bool:
    entry = log_entry(
        step.entry_id,
        step.at,
        step.message,
        status=step.status,
        step=step.step,
        actor=step.actor,
        plan=step.plan,
        propagation=step.propagation,
        not_before=step.not_before,
        approver=step.approver,
    )
    result = conn.execute(
        _APPEND_LOG,
        {
            "entry": json.dumps([entry]),
            "status": step.status,
            "id": uuid.UUID(step.request_id),
            "probe": json.dumps([{"id": step.entry_id}]),
        },
    )
    sequence = result.scalar_one_or_none()
    if sequence is None:
        return False
    if step.status is not None:
        _add_event(conn, step.request_id, sequence, step.status, step.message, step.at)
        if step.status != RequestStatus.IN_PROGRESS:  # the request stopped changing DNS
            release_names(conn, step.request_id)
    return True


_APPEND_NOTICE = text(
    """
    UPDATE dns_requests
       SET log_messages = log_messages || CAST(:entry AS jsonb),
           event_seq = event_seq + CASE WHEN CAST(:event AS varchar) IS NULL THEN 0 ELSE 1 END,
           updated_at = now()
     WHERE id = :id
       AND NOT log_messages @> CAST(:probe AS jsonb)
    RETURNING event_seq
    """
)


def append_notice(conn: Connection, request_id: str, entry: dict[str, Any], event: str | None = None) -> bool:
    """A log line that changes no status, once (False when already there); with `event`, also an
    outbox event of that status with the request's next sequence number (an expiry's warning)."""
    sequence = conn.execute(
        _APPEND_NOTICE,
        {
            "entry": json.dumps([entry]),
            "event": event,
            "id": uuid.UUID(request_id),
            "probe": json.dumps([{"id": entry["id"]}]),
        },
    ).scalar_one_or_none()
    if sequence is None:
        return False
    if event is not None:
        _add_event(conn, request_id, sequence, event, entry["message"], datetime.fromisoformat(entry["at"]))
    return True


def begin_request(conn: Connection, spec: DnsRequestSpec, accepted_at: datetime, step: LogStep) -> bool:
    """The workflow's first write: the row if the accepting process died first, and its first status."""
    created = insert_request(conn, spec, accepted_at)
    append_step(conn, step)
    return created


def finish_request(
    conn: Connection, step: LogStep, record: RecordRow | None, ptrs: Sequence[KeptPtr] = ()
) -> None:
    """The record DNS now serves and the final status, together or not at all; with the PTRs the
    request kept in its own apply, each a request row of its own (source `ptr`) with its record,
    as the PTR requests of old left them."""
    if record is not None:
        apply_record(conn, record)
    for kept in ptrs:
        insert_request(conn, kept.request, kept.step.at)
        append_step(conn, kept.step)
        apply_record(conn, kept.record)
    append_step(conn, step)


def fingerprint_and_acceptance(conn: Connection, request_id: str) -> tuple[str | None, datetime] | None:
    """The request's `request_hash` and when it was accepted, if it exists."""
    row = conn.execute(
        select(col(DnsRequest.request_hash), col(DnsRequest.created_at)).where(
            col(DnsRequest.id) == uuid.UUID(request_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


def request_exists(conn: Connection, request_id: str) -> bool:
    found = conn.execute(
        select(func.count()).select_from(DnsRequest).where(col(DnsRequest.id) == uuid.UUID(request_id))
    )
    return bool(found.scalar_one())


def get_request(session: Session, request_id: uuid.UUID) -> tuple[DnsRequest, DnsRecord | None] | None:
    request = session.get(DnsRequest, request_id)
    if request is None:
        return None
    record = session.exec(select_model(DnsRecord).where(col(DnsRecord.request_id) == request_id)).first()
    return request, record
