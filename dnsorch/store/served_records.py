"""The records DNS serves for dnsorch (`dns_records`) and the account that owns each managed name.

Who owns a name is dnsorch/store/owners.py (ownership follows the tree of names); an operator's
transfer or grant of a name is dnsorch/store/name_transfers.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, update
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
    params = {
        "r_domain": row.domain,
        "r_type": row.record_type,
        "r_request": uuid.UUID(row.request_id),
        "r_at": row.provisioned_at,
    }
    newer = conn.execute(_LATER, params).one()
    newer_at = newer[0] if newer[0] is not None else newer[1]
    if newer_at is not None:
        if row.operation == "delete":
            return False
        return _insert(conn, row, retired_at=newer_at)
    conn.execute(_RETIRE, params)
    if row.operation == "delete":
        owners.release(conn, row.domain, row.zone)
        return True
    if row.account_id:
        owners.claim(conn, row.domain, row.zone, row.account_id, row.provisioned_at)
    return _insert(conn, row)


def _insert(conn: Connection, row: RecordRow, *, retired_at: datetime | None = None) -> bool:
    values = {
        "r_id": uuid.uuid4(),
        "r_request": uuid.UUID(row.request_id),
        "r_type": row.record_type,
        "r_domain": row.domain,
        "r_target": row.target,
        "r_ttl": row.ttl,
        "r_priority": row.priority,
        "r_comment": row.comment,
        "r_at": row.provisioned_at,
        "r_retired": retired_at,
    }
    return conn.execute(_INSERT, values).rowcount == 1


# apply_record's statements, built once (building them cost more CPU than running them).
_SAME_SET = (
    col(DnsRecord.domain) == bindparam("r_domain"),
    col(DnsRecord.record_type) == bindparam("r_type"),
)
_OTHERS = (*_SAME_SET, col(DnsRecord.request_id) != bindparam("r_request"))
_SERVED_LATER = (
    select(col(DnsRecord.provisioned_at))
    .where(*_OTHERS, col(DnsRecord.deleted_at).is_(None), col(DnsRecord.provisioned_at) > bindparam("r_at"))
    .order_by(col(DnsRecord.provisioned_at))
    .limit(1)
)
_RETIRED_LATER = (
    select(col(DnsRecord.deleted_at))
    .where(*_OTHERS, col(DnsRecord.deleted_at) > bindparam("r_at"))
    .order_by(col(DnsRecord.deleted_at))
    .limit(1)
)
_LATER = select(_SERVED_LATER.scalar_subquery(), _RETIRED_LATER.scalar_subquery())
"""A later current row, else a later retirement: both asked in one round trip."""
_RETIRE = (
    update(DnsRecord)
    .where(*_OTHERS, col(DnsRecord.deleted_at).is_(None), col(DnsRecord.provisioned_at) <= bindparam("r_at"))
    .values(deleted_at=bindparam("r_at"))
)
_INSERT = (
    insert(DnsRecord)
    .values(
        id=bindparam("r_id"),
        request_id=bindparam("r_request"),
        record_type=bindparam("r_type"),
        domain=bindparam("r_domain"),
        target=bindparam("r_target"),
        ttl=bindparam("r_ttl"),
        priority=bindparam("r_priority"),
        comment=bindparam("r_comment"),
        provisioned_at=bindparam("r_at"),
        deleted_at=bindparam("r_retired"),
    )
    .on_conflict_do_nothing(index_elements=["request_id"])
)


_TYPES_AT = select(col(DnsRecord.record_type)).where(
    col(DnsRecord.domain) == bindparam("domain"), col(DnsRecord.deleted_at).is_(None)
)
"""Built once: every accept asks it, and building it per call cost more CPU than running it."""


def managed_types(conn: Connection, domain: str) -> set[str]:
    """The record types dnsorch currently manages at `domain`."""
    return set(conn.execute(_TYPES_AT, {"domain": domain}).scalars())


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
