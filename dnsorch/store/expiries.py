"""Expiring records in PostgreSQL: which completed request starts an expiry, what stands in the way
of one when it is due, and the expiry's lines (and its warning event) on the request's row.

The rule an expiry follows: it belongs to the record its request provisioned. Once a later request
has replaced that record (an update, with or without its own `expires_at`) or deleted it, the
expiry is void and deletes nothing; an update with `expires_at` starts an expiry of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlmodel import col

from dnsorch.contracts import (
    EXPIRING,
    EXPIRY_SOURCE,
    UNFINISHED_STATUSES,
    ExpiryNotice,
    ExpiryOutcome,
    LogStep,
    RecordRow,
    RequestStatus,
)
from dnsorch.store import request_rows
from dnsorch.store.models import DnsRecord, DnsRequest

SUPERSEDED = "superseded"
BUSY = "busy"
EXPIRY_OF = "expiry_of"
"""The key in an expiry's delete's `extra_config` that names the expiring request."""


@dataclass(frozen=True)
class ExpiringRecord:
    """What an expiry's delete names: the record set of the request that set the expiry."""

    request_id: str
    account_id: str
    domain: str
    record_type: str
    expires_at: datetime | None


def due_after_finish(conn: Connection, step: LogStep, record: RecordRow | None) -> datetime | None:
    """The expiry to start now that a request finished: a create or update that COMPLETED with its
    record stored and carries `expires_at`; None otherwise."""
    if (
        step.status != RequestStatus.COMPLETED
        or record is None
        or record.operation not in ("create", "update")
    ):
        return None
    return conn.execute(
        select(col(DnsRequest.expires_at)).where(col(DnsRequest.id) == uuid.UUID(step.request_id))
    ).scalar_one_or_none()


def expiring_record(conn: Connection, request_id: str) -> ExpiringRecord | None:
    row = conn.execute(
        select(
            col(DnsRequest.account_id),
            col(DnsRequest.domain),
            col(DnsRequest.record_type),
            col(DnsRequest.expires_at),
        ).where(col(DnsRequest.id) == uuid.UUID(request_id))
    ).first()
    return None if row is None else ExpiringRecord(request_id, row[0], row[1], row[2], row[3])


def obstacle(conn: Connection, request_id: str) -> ExpiryOutcome | None:
    """Why the expiry cannot delete now: its record was replaced or deleted since (`superseded`:
    for good), or another request is changing the record set (`busy`: ask again later)."""
    found = expiring_record(conn, request_id)
    if found is None:
        return ExpiryOutcome(SUPERSEDED, f"request {request_id} does not exist")
    if (why := _replaced(conn, found)) is not None:
        return ExpiryOutcome(
            SUPERSEDED, f"{found.record_type} {found.domain} was {why} since: the expiry is void"
        )
    busy = conn.execute(
        select(col(DnsRequest.id))
        .where(col(DnsRequest.domain) == found.domain, col(DnsRequest.record_type) == found.record_type)
        .where(col(DnsRequest.status).in_(UNFINISHED_STATUSES), col(DnsRequest.id) != uuid.UUID(request_id))
        .order_by(col(DnsRequest.created_at))
        .limit(1)
    ).scalar_one_or_none()
    if busy is not None:
        return ExpiryOutcome(
            BUSY, f"request {busy} is changing {found.record_type} {found.domain}; waiting for it"
        )
    return None


def superseded_delete(conn: Connection, delete_id: str) -> str:
    """Why an expiry's delete must not run at its turn, or "" when it may: the record it names was
    replaced or deleted after the expiry's last look (an update accepted in between goes first).
    A delete that names no expiring request (accepted before the link existed) is not judged."""
    row = conn.execute(
        select(col(DnsRequest.config)).where(
            col(DnsRequest.id) == uuid.UUID(delete_id), col(DnsRequest.source) == EXPIRY_SOURCE
        )
    ).scalar_one_or_none()
    expiring_id = ((row or {}).get("extra_config") or {}).get(EXPIRY_OF)
    if not isinstance(expiring_id, str) or not expiring_id:
        return ""
    found = expiring_record(conn, expiring_id)
    if found is None:
        return f"the expiring request {expiring_id} does not exist"
    why = _replaced(conn, found)
    if why is None:
        return ""
    return (
        f"{found.record_type} {found.domain} was {why} after request {expiring_id}'s expiry "
        "started this delete; the record it set is gone, so nothing is deleted"
    )


def _replaced(conn: Connection, found: ExpiringRecord) -> str | None:
    """How a later request changed the record set since this request provisioned it, or None when
    its record still stands. A drift `restore` re-applies the recorded values: it retires the row
    but changes nothing a person asked for, so the expiry stands."""
    mine = conn.execute(
        select(col(DnsRecord.provisioned_at), col(DnsRecord.deleted_at)).where(
            col(DnsRecord.request_id) == uuid.UUID(found.request_id)
        )
    ).first()
    if mine is None:
        return "never provisioned by this request"
    if mine[1] is None:
        return None
    same_rrset = (col(DnsRecord.domain) == found.domain, col(DnsRecord.record_type) == found.record_type)
    current = conn.execute(
        select(col(DnsRecord.request_id)).where(*same_rrset, col(DnsRecord.deleted_at).is_(None))
    ).scalar_one_or_none()
    if current is None:
        return "deleted"
    later = conn.execute(
        select(col(DnsRecord.request_id))
        .join(DnsRequest, col(DnsRequest.id) == col(DnsRecord.request_id))
        .where(*same_rrset, col(DnsRecord.provisioned_at) > mine[0], col(DnsRequest.operation) != "restore")
        .order_by(col(DnsRecord.provisioned_at).desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if later is None else f"replaced by request {later}"


def warn(conn: Connection, notice: ExpiryNotice, message: str) -> ExpiryOutcome:
    """The warning, once per expiry time: a line on the request's timeline and an EXPIRING event
    with its next sequence number, in one transaction. Nothing when the expiry is void."""
    blocked = obstacle(conn, notice.request_id)
    if blocked is not None and blocked.kind == SUPERSEDED:
        return blocked
    request_rows.append_notice(conn, notice.request_id, _entry(notice, message), EXPIRING)
    return ExpiryOutcome()


def move(conn: Connection, notice: ExpiryNotice, message: str) -> None:
    """An extension: the request's `expires_at` and a line on its timeline saying who moved it."""
    conn.execute(
        update(DnsRequest)
        .where(col(DnsRequest.id) == uuid.UUID(notice.request_id))
        .values(expires_at=notice.expires_at)
    )
    request_rows.append_notice(conn, notice.request_id, _entry(notice, message))


def note(conn: Connection, notice: ExpiryNotice, message: str) -> None:
    """A line on the request's timeline about its expiry (void, refused, delete started)."""
    request_rows.append_notice(conn, notice.request_id, _entry(notice, message))


def _entry(notice: ExpiryNotice, message: str) -> dict[str, object]:
    entry = request_rows.log_entry(notice.entry_id, notice.at, message, step="expiry", actor=notice.actor)
    entry["expires_at"] = notice.expires_at.isoformat()
    return entry
