"""The read side's SQL (API v2): requests by filter, newest first a page at a time, and the records
provisioned now. The filters arrive checked (dnsorch/requests/queries.py): this only asks PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, tuple_
from sqlmodel import Session, col, select

from dnsorch.store.models import DnsRecord, DnsRequest
from dnsorch.store.served_records import in_zone


@dataclass
class RequestFilters:
    status: str | None = None
    domain: str | None = None
    zone: str | None = None
    account_id: str | None = None
    source: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def _in_zone(column: object, zone: str) -> object:
    return in_zone(column, zone.strip().rstrip(".").lower())  # the filter as a client typed it


def select_requests(
    engine: Engine, filters: RequestFilters, limit: int, before: tuple[datetime, uuid.UUID] | None
) -> list[DnsRequest]:
    """Up to `limit` requests matching `filters`, newest first, older than `before` (created_at, id)."""
    query = select(DnsRequest)
    if filters.status:
        query = query.where(col(DnsRequest.status) == filters.status.upper())
    if filters.domain:
        query = query.where(col(DnsRequest.domain) == filters.domain.rstrip(".").lower())
    if filters.zone:
        query = query.where(_in_zone(DnsRequest.domain, filters.zone))  # type: ignore[arg-type]
    if filters.account_id:
        query = query.where(col(DnsRequest.account_id) == filters.account_id)
    if filters.source:
        query = query.where(col(DnsRequest.source) == filters.source)
    if filters.created_after:
        query = query.where(col(DnsRequest.created_at) >= filters.created_after)
    if filters.created_before:
        query = query.where(col(DnsRequest.created_at) < filters.created_before)
    if before:
        created, ident = before
        query = query.where(tuple_(col(DnsRequest.created_at), col(DnsRequest.id)) < tuple_(created, ident))
    query = query.order_by(col(DnsRequest.created_at).desc(), col(DnsRequest.id).desc()).limit(limit)
    with Session(engine) as session:
        return list(session.exec(query).all())


def select_records(
    engine: Engine, *, domain: str | None, zone: str | None, record_type: str | None, account_id: str | None
) -> list[tuple[DnsRecord, DnsRequest]]:
    """What is provisioned now: records no later update or delete has retired."""
    query = (
        select(DnsRecord, DnsRequest)
        .join(DnsRequest, col(DnsRequest.id) == col(DnsRecord.request_id))
        .where(col(DnsRecord.deleted_at).is_(None))
    )
    if domain:
        query = query.where(col(DnsRecord.domain) == domain.rstrip(".").lower())
    if zone:
        query = query.where(_in_zone(DnsRecord.domain, zone))  # type: ignore[arg-type]
    if record_type:
        query = query.where(col(DnsRecord.record_type) == record_type.upper())
    if account_id:
        query = query.where(col(DnsRequest.account_id) == account_id)
    query = query.order_by(col(DnsRecord.domain), col(DnsRecord.record_type)).limit(1000)
    with Session(engine) as session:
        return [(record, request) for record, request in session.exec(query).all()]
