"""What the approval policy reads at accept (dnsorch/requests/approval.py): the record set's current TTL, the
size of the zone, and the updates and deletes already in flight in it."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, func, select
from sqlmodel import col

from dnsorch.contracts import UNFINISHED_STATUSES, DnsRequestSpec, ZoneFacts
from dnsorch.store.models import DnsRecord, DnsRequest
from dnsorch.store.served_records import in_zone


def read_zone_facts(conn: Connection, spec: DnsRequestSpec) -> ZoneFacts:
    current = col(DnsRecord.deleted_at).is_(None)
    ttl = conn.execute(
        select(col(DnsRecord.ttl))
        .where(current, col(DnsRecord.domain) == spec.domain, col(DnsRecord.record_type) == spec.record_type)
        .order_by(col(DnsRecord.provisioned_at).desc())
        .limit(1)
    ).scalar()
    record_sets = select(col(DnsRecord.domain), col(DnsRecord.record_type)).where(
        current, in_zone(col(DnsRecord.domain), spec.zone)
    )
    count = conn.execute(select(func.count()).select_from(record_sets.distinct().subquery())).scalar_one()
    in_flight = conn.execute(
        select(func.count())
        .select_from(DnsRequest)
        .where(
            col(DnsRequest.status).in_(UNFINISHED_STATUSES),
            col(DnsRequest.operation).in_(("update", "delete")),
            in_zone(col(DnsRequest.domain), spec.zone),
            col(DnsRequest.id) != uuid.UUID(spec.request_id),
        )
    ).scalar_one()
    return ZoneFacts(current_ttl=ttl, zone_record_sets=count, zone_changes_in_flight=in_flight)
