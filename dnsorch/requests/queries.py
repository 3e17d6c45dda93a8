"""Read-side queries for operators (API v2): filtered, cursor-paginated request lists and records.

What a client may ask is checked here (text PostgreSQL can hold, times in UTC, cursors this API
handed out); the SQL is dnsorch/store/listings.py."""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Engine

from dnsorch.contracts import InvalidRequest
from dnsorch.store import DnsRecord, DnsRequest, RequestFilters, select_records, select_requests

MAX_PAGE = 200


def check_text(field: str, value: str | None) -> str | None:
    """PostgreSQL cannot hold a NUL in text (psycopg2 raises before the query is sent)."""
    if value is not None and "\x00" in value:
        raise InvalidRequest(field, "must not contain a NUL character")
    return value


def as_utc(field: str, value: datetime) -> datetime:
    """PostgreSQL refuses UTC offsets beyond ±15:59 that ISO 8601 allows (up to ±23:59): send UTC.

    A naive time is taken as UTC. Near the ends of the calendar the conversion itself can leave
    it (9999-12-31T23:00-05:00): that is the client's mistake, not a server error.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest(field, "is out of range once converted to UTC") from None


def _checked(filters: RequestFilters) -> RequestFilters:
    """The filters as PostgreSQL takes them, or InvalidRequest naming the one it cannot."""
    for name in ("status", "domain", "zone", "account_id", "source"):
        check_text(name, getattr(filters, name))
    after, before = filters.created_after, filters.created_before
    return replace(
        filters,
        created_after=None if after is None else as_utc("created_after", after),
        created_before=None if before is None else as_utc("created_before", before),
    )


def encode_cursor(request: DnsRequest) -> str:
    raw = f"{request.created_at.isoformat()}|{request.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, ident = raw.split("|", 1)
        at, request_id = datetime.fromisoformat(created), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("cursor", "is not a cursor this API handed out") from None
    return as_utc("cursor", at), request_id


def list_requests(
    engine: Engine, filters: RequestFilters, limit: int, cursor: str | None
) -> tuple[list[DnsRequest], str | None]:
    """Newest first; the cursor is the last row's (created_at, id), so pages never shift."""
    limit = max(1, min(limit, MAX_PAGE))
    filters = _checked(filters)
    before = decode_cursor(cursor) if cursor else None
    rows = select_requests(engine, filters, limit + 1, before)
    page, more = rows[:limit], len(rows) > limit
    return page, encode_cursor(page[-1]) if more and page else None


def list_records(
    engine: Engine, *, domain: str | None, zone: str | None, record_type: str | None, account_id: str | None
) -> list[tuple[DnsRecord, DnsRequest]]:
    """What is provisioned now: records no later update or delete has retired."""
    for name, value in (
        ("domain", domain),
        ("zone", zone),
        ("record_type", record_type),
        ("account_id", account_id),
    ):
        check_text(name, value)
    return select_records(engine, domain=domain, zone=zone, record_type=record_type, account_id=account_id)
