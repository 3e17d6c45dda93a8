"""Reads and idempotent writes of request rows, shared by the accept service and the activities.

Every write can be repeated safely: a retried activity or a redelivered request must never
add a second row, a second record or a second copy of a log line.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col
from sqlmodel import select as select_model

from dnsorch.contracts import DnsRequestSpec, LogStep, RecordRow, RequestStatus
from dnsorch.models import DeadLetter, DnsRecord, DnsRequest, RequestEvent

ACCEPTED_ENTRY_ID = "accepted"


def log_entry(
    entry_id: str,
    at: datetime,
    message: str,
    *,
    status: str | None = None,
    step: str = "",
    actor: str = "workflow",
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
        "config": {"ttl": spec.ttl, "priority": spec.priority, "extra_config": spec.extra_config},
        "status": RequestStatus.PENDING,
        "log_messages": [first],
        "workflow_id": spec.workflow_id,
        "operation": spec.operation,
        "idempotency_key": spec.idempotency_key,
        "request_hash": spec.request_hash,
        "message_key": spec.message_key,
        "event_seq": 1,
        "created_at": accepted_at,
        "updated_at": accepted_at,
    }


def insert_request(conn: Connection, spec: DnsRequestSpec, accepted_at: datetime) -> bool:
    """Insert the request row unless it exists; True when this call created it."""
    values = request_values(spec, accepted_at)
    statement = insert(DnsRequest).values(**values).on_conflict_do_nothing(index_elements=["id"])
    if conn.execute(statement).rowcount != 1:
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
        insert(RequestEvent).values(
            request_id=uuid.UUID(request_id), sequence=sequence, status=status, reason=reason, occurred_at=at
        )
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
    """Append a log line (and set the status, with its outbox event) once; False when already there."""
    entry = log_entry(
        step.entry_id, step.at, step.message, status=step.status, step=step.step, actor=step.actor
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
    return True


def request_exists(conn: Connection, request_id: str) -> bool:
    found = conn.execute(
        select(func.count()).select_from(DnsRequest).where(col(DnsRequest.id) == uuid.UUID(request_id))
    )
    return bool(found.scalar_one())


def apply_record(conn: Connection, row: RecordRow) -> bool:
    """Keep `dns_records` equal to what DNS serves after this request; safe to repeat.

    Older current rows for the name and type are retired (a create or update replaced the
    record set, a delete removed it); create and update then store this request's row.
    """
    conn.execute(
        update(DnsRecord)
        .where(col(DnsRecord.domain) == row.domain, col(DnsRecord.record_type) == row.record_type)
        .where(col(DnsRecord.deleted_at).is_(None), col(DnsRecord.request_id) != uuid.UUID(row.request_id))
        .where(col(DnsRecord.provisioned_at) <= row.provisioned_at)
        .values(deleted_at=row.provisioned_at)
    )
    if row.operation == "delete":
        return True
    statement = (
        insert(DnsRecord)
        .values(
            id=uuid.uuid4(),
            request_id=uuid.UUID(row.request_id),
            record_type=row.record_type,
            domain=row.domain,
            target=row.target,
            ttl=row.ttl,
            priority=row.priority,
            comment=row.comment,
            provisioned_at=row.provisioned_at,
        )
        .on_conflict_do_nothing(index_elements=["request_id"])
    )
    return conn.execute(statement).rowcount == 1


def get_request(session: Session, request_id: uuid.UUID) -> tuple[DnsRequest, DnsRecord | None] | None:
    request = session.get(DnsRequest, request_id)
    if request is None:
        return None
    record = session.exec(select_model(DnsRecord).where(col(DnsRecord.request_id) == request_id)).first()
    return request, record


def dead_letter_sent(conn: Connection, topic: str, partition: int, offset: int) -> bool:
    found = conn.execute(
        select(func.count())
        .select_from(DeadLetter)
        .where(col(DeadLetter.topic) == topic, col(DeadLetter.partition) == partition)
        .where(col(DeadLetter.offset) == offset)
    )
    return bool(found.scalar_one())


def record_dead_letter(
    conn: Connection, topic: str, partition: int, offset: int, key: str | None, reason: str
) -> None:
    conn.execute(
        insert(DeadLetter)
        .values(topic=topic, partition=partition, offset=offset, message_key=key, reason=reason)
        .on_conflict_do_nothing()
    )
