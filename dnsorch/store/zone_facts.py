"""What the approval policy reads at accept (dnsorch/requests/approval.py): the record set's current TTL, the
size of the zone, and the updates and deletes already in flight in it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, String, bindparam, func, or_, select
from sqlmodel import col

from dnsorch.contracts import UNFINISHED_STATUSES, DnsRequestSpec, ZoneFacts
from dnsorch.store.models import DnsRecord, DnsRequest

_ZONE = bindparam("zone", type_=String)
_BELOW = bindparam("below", type_=String)
"""A LIKE pattern (escape `/`) of the names below the zone: `%.zone`, its suffix matched literally."""


def _in_zone(column: Any) -> Any:
    """As served_records.in_zone, with the zone a parameter, so the statement is built once."""
    return or_(col(column) == _ZONE, col(column).like(_BELOW, escape="/"))


_CURRENT = col(DnsRecord.deleted_at).is_(None)
_TTL = (
    select(col(DnsRecord.ttl))
    .where(
        _CURRENT,
        col(DnsRecord.domain) == bindparam("domain"),
        col(DnsRecord.record_type) == bindparam("record_type"),
    )
    .order_by(col(DnsRecord.provisioned_at).desc())
    .limit(1)
)
_RECORD_SETS = select(col(DnsRecord.domain), col(DnsRecord.record_type)).where(
    _CURRENT, _in_zone(DnsRecord.domain)
)
_IN_FLIGHT = (
    select(func.count())
    .select_from(DnsRequest)
    .where(
        col(DnsRequest.status).in_(UNFINISHED_STATUSES),
        col(DnsRequest.operation).in_(("update", "delete")),
        _in_zone(DnsRequest.domain),
        col(DnsRequest.id) != bindparam("request_id"),
    )
)
_FACTS = select(
    _TTL.scalar_subquery(),
    select(func.count()).select_from(_RECORD_SETS.distinct().subquery()).scalar_subquery(),
    _IN_FLIGHT.scalar_subquery(),
)
"""The three facts in one round trip, built once: every accept asks them, and building three
statements per accept cost the API more CPU than PostgreSQL took to answer them."""


def read_zone_facts(conn: Connection, spec: DnsRequestSpec) -> ZoneFacts:
    below = "." + spec.zone
    ttl, count, in_flight = conn.execute(
        _FACTS,
        {
            "domain": spec.domain,
            "record_type": spec.record_type,
            "zone": spec.zone,
            "below": "%" + below.replace("/", "//").replace("%", "/%").replace("_", "/_"),
            "request_id": uuid.UUID(spec.request_id),
        },
    ).one()
    return ZoneFacts(current_ttl=ttl, zone_record_sets=count, zone_changes_in_flight=in_flight)
