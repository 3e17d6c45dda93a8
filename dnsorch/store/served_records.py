"""The records DNS serves for dnsorch (`dns_records`) and the account that owns each managed name.

Who owns a name is dnsorch/store/owners.py (ownership follows the tree of names); an operator's
transfer or grant of a name is dnsorch/store/name_transfers.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from dnsorch.contracts import RecordRow
from dnsorch.dns import rdata_values
from dnsorch.store import owners
from dnsorch.store.models import DnsRecord, DnsRequest


def apply_record(conn: Connection, row: RecordRow) -> bool:
    """Keep `dns_records` equal to what DNS serves after this request; safe to repeat.

    Older current rows for the name and type are retired (a create or update replaced the
    record set, a delete removed it); create and update then store this request's row. The name
    gets the requesting account as its owner if it has none; it loses its owner when its last
    managed record is deleted.

    A row served before a later change (a request that completed late: it waited for an operator
    while a later request changed or deleted the name) is stored retired, and changes nothing else:
    `dns_records` keeps saying what DNS serves. A later change shows as a current row served after
    this one, or, for a delete (which leaves no row), as a row it retired after this one was served.
    """
    others = (
        col(DnsRecord.domain) == row.domain,
        col(DnsRecord.record_type) == row.record_type,
        col(DnsRecord.request_id) != uuid.UUID(row.request_id),
    )
    # A later current row, else a later retirement: both asked in one round trip.
    served_later = (
        select(col(DnsRecord.provisioned_at))
        .where(
            *others, col(DnsRecord.deleted_at).is_(None), col(DnsRecord.provisioned_at) > row.provisioned_at
        )
        .order_by(col(DnsRecord.provisioned_at))
        .limit(1)
    )
    retired_later = (
        select(col(DnsRecord.deleted_at))
        .where(*others, col(DnsRecord.deleted_at) > row.provisioned_at)
        .order_by(col(DnsRecord.deleted_at))
        .limit(1)
    )
    later = conn.execute(select(served_later.scalar_subquery(), retired_later.scalar_subquery())).one()
    newer = later[0] if later[0] is not None else later[1]
    if newer is not None:
        if row.operation == "delete":
            return False
        return _insert(conn, row, retired_at=newer)
    conn.execute(
        update(DnsRecord)
        .where(col(DnsRecord.domain) == row.domain, col(DnsRecord.record_type) == row.record_type)
        .where(col(DnsRecord.deleted_at).is_(None), col(DnsRecord.request_id) != uuid.UUID(row.request_id))
        .where(col(DnsRecord.provisioned_at) <= row.provisioned_at)
        .values(deleted_at=row.provisioned_at)
    )
    if row.operation == "delete":
        owners.release(conn, row.domain, row.zone)
        return True
    if row.account_id:
        owners.claim(conn, row.domain, row.zone, row.account_id, row.provisioned_at)
    return _insert(conn, row)


def _insert(conn: Connection, row: RecordRow, *, retired_at: datetime | None = None) -> bool:
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
            deleted_at=retired_at,
        )
        .on_conflict_do_nothing(index_elements=["request_id"])
    )
    return conn.execute(statement).rowcount == 1


def managed_types(conn: Connection, domain: str) -> set[str]:
    """The record types dnsorch currently manages at `domain`."""
    found = conn.execute(
        select(col(DnsRecord.record_type)).where(
            col(DnsRecord.domain) == domain, col(DnsRecord.deleted_at).is_(None)
        )
    )
    return set(found.scalars())


def recorded(conn: Connection, domain: str, record_type: str) -> tuple[str, int, int | None] | None:
    """What dnsorch records now for the record set: (target, TTL, priority) of its current row."""
    row = conn.execute(
        select(col(DnsRecord.target), col(DnsRecord.ttl), col(DnsRecord.priority))
        .where(col(DnsRecord.domain) == domain, col(DnsRecord.record_type) == record_type)
        .where(col(DnsRecord.deleted_at).is_(None))
        .order_by(col(DnsRecord.provisioned_at).desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def recorded_values(conn: Connection, domain: str, record_type: str) -> tuple[list[str], int] | None:
    """What dnsorch records now for the record set, whole: its values as DNS serves them (an SRV's
    port and weight come from its request's config) and its TTL."""
    row = conn.execute(
        select(col(DnsRecord.target), col(DnsRecord.ttl), col(DnsRecord.priority), col(DnsRequest.config))
        .join(DnsRequest, col(DnsRequest.id) == col(DnsRecord.request_id))
        .where(col(DnsRecord.domain) == domain, col(DnsRecord.record_type) == record_type)
        .where(col(DnsRecord.deleted_at).is_(None))
        .order_by(col(DnsRecord.provisioned_at).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    target, ttl, priority, config = row
    extra = config.get("extra_config") if isinstance(config, dict) else None
    return rdata_values(record_type, target, priority, extra if isinstance(extra, dict) else {}), ttl


def in_zone(column: Any, zone: str) -> Any:
    """`column` (a domain) is the zone's apex or a name below it; the suffix is matched literally
    (`_` would be a wildcard in a LIKE pattern)."""
    return or_(col(column) == zone, col(column).endswith("." + zone, autoescape=True))
