"""Reads and idempotent writes of request rows, shared by the accept service and the activities.

Every write can be repeated safely: a retried activity or a redelivered request must never
add a second row, a second record or a second copy of a log line.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col
from sqlmodel import select as select_model

from dnsorch.contracts import DnsRequestSpec, LogStep, RecordRow, RequestStatus
from dnsorch.models import DeadLetter, DnsRecord, DnsRequest, NameClaim, NameOwner, RequestEvent

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
        },
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
        step.entry_id,
        step.at,
        step.message,
        status=step.status,
        step=step.step,
        actor=step.actor,
        plan=step.plan,
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


def begin_request(conn: Connection, spec: DnsRequestSpec, accepted_at: datetime, step: LogStep) -> bool:
    """The workflow's first write: the row if the accepting process died first, and its first status."""
    created = insert_request(conn, spec, accepted_at)
    append_step(conn, step)
    return created


def finish_request(conn: Connection, step: LogStep, record: RecordRow | None) -> None:
    """The record DNS now serves and the final status, together or not at all."""
    if record is not None:
        apply_record(conn, record)
    append_step(conn, step)


_OLDER_IN_PROGRESS = text(
    """
    SELECT other.id
      FROM dns_requests AS other, dns_requests AS mine
     WHERE mine.id = :id
       AND other.domain = mine.domain
       AND other.id <> mine.id
       AND other.status = 'IN_PROGRESS'
       AND (other.created_at, other.id) < (mine.created_at, mine.id)
       AND other.updated_at > now() - make_interval(secs => :lease)
     ORDER BY other.created_at, other.id
     LIMIT 1
    """
)


def claim_name(conn: Connection, domain: str, request_id: str, lease_seconds: float) -> str:
    """Try to become the one request changing `domain`; returns who may go now (maybe us).

    A request may go when nobody holds the name (or the holder's claim is older than the lease:
    its workflow was terminated) and no request accepted before it still waits to change the
    name, so changes to one name apply in the order they were accepted. The holder keeps the
    claim across its retries; its next status releases it (`append_step`).
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('name_claims'), hashtext(:d))"), {"d": domain})
    mine = uuid.UUID(request_id)
    holder = conn.execute(
        select(NameClaim.request_id, NameClaim.claimed_at)  # type: ignore[call-overload]
        .where(col(NameClaim.domain) == domain)
        .where(col(NameClaim.claimed_at) > func.now() - func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds))
    ).first()
    if holder is not None and holder.request_id != mine:
        return str(holder.request_id)
    if holder is None:
        older = conn.execute(_OLDER_IN_PROGRESS, {"id": mine, "lease": lease_seconds}).scalar_one_or_none()
        if older is not None:
            return str(older)
    conn.execute(
        insert(NameClaim)
        .values(domain=domain, request_id=mine, claimed_at=func.now())
        .on_conflict_do_update(index_elements=["domain"], set_={"request_id": mine, "claimed_at": func.now()})
    )
    return request_id


def release_names(conn: Connection, request_id: str) -> None:
    conn.execute(delete(NameClaim).where(col(NameClaim.request_id) == uuid.UUID(request_id)))


def request_exists(conn: Connection, request_id: str) -> bool:
    found = conn.execute(
        select(func.count()).select_from(DnsRequest).where(col(DnsRequest.id) == uuid.UUID(request_id))
    )
    return bool(found.scalar_one())


def apply_record(conn: Connection, row: RecordRow) -> bool:
    """Keep `dns_records` equal to what DNS serves after this request; safe to repeat.

    Older current rows for the name and type are retired (a create or update replaced the
    record set, a delete removed it); create and update then store this request's row. The name
    gets the requesting account as its owner if it has none; it loses its owner when its last
    managed record is deleted.
    """
    conn.execute(
        update(DnsRecord)
        .where(col(DnsRecord.domain) == row.domain, col(DnsRecord.record_type) == row.record_type)
        .where(col(DnsRecord.deleted_at).is_(None), col(DnsRecord.request_id) != uuid.UUID(row.request_id))
        .where(col(DnsRecord.provisioned_at) <= row.provisioned_at)
        .values(deleted_at=row.provisioned_at)
    )
    if row.operation == "delete":
        _release_unused_name(conn, row.domain)
        return True
    if row.account_id:
        conn.execute(
            insert(NameOwner)
            .values(domain=row.domain, account_id=row.account_id, since=row.provisioned_at)
            .on_conflict_do_nothing(index_elements=["domain"])
        )
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


def _release_unused_name(conn: Connection, domain: str) -> None:
    current = select(col(DnsRecord.id)).where(
        col(DnsRecord.domain) == domain, col(DnsRecord.deleted_at).is_(None)
    )
    conn.execute(delete(NameOwner).where(col(NameOwner.domain) == domain, ~current.exists()))


def managed_types(conn: Connection, domain: str) -> set[str]:
    """The record types dnsorch currently manages at `domain`."""
    found = conn.execute(
        select(col(DnsRecord.record_type)).where(
            col(DnsRecord.domain) == domain, col(DnsRecord.deleted_at).is_(None)
        )
    )
    return set(found.scalars())


def name_owner(conn: Connection, domain: str) -> str | None:
    """The account the name belongs to, if dnsorch manages it."""
    owner = conn.execute(select(col(NameOwner.account_id)).where(col(NameOwner.domain) == domain))
    return owner.scalar_one_or_none()


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
