"""PostgreSQL side of a drift scan: the managed record sets of a zone as dnsorch recorded them, and the
requests still under way there (a record set one of them is changing is left to it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlmodel import col

from dnsorch.contracts import UNFINISHED_STATUSES
from dnsorch.drift import Key, Recorded, key
from dnsorch.drift_contracts import ManagedRecord
from dnsorch.models import DnsRecord, DnsRequest, NameOwner
from dnsorch.records import rdata_values
from dnsorch.repository.served_records import in_zone


@dataclass
class ManagedZone:
    recorded: dict[Key, Recorded]
    provisioned_at: dict[Key, datetime]
    pending: dict[Key, str]
    """Record sets with an unfinished request (any source), and that request's id."""


def read_zone_state(conn: Connection, zone: str) -> ManagedZone:
    rows = conn.execute(
        select(
            col(DnsRecord.domain),
            col(DnsRecord.record_type),
            col(DnsRecord.target),
            col(DnsRecord.ttl),
            col(DnsRecord.priority),
            col(DnsRecord.comment),
            col(DnsRecord.provisioned_at),
            col(DnsRequest.config),
            func.coalesce(col(NameOwner.account_id), col(DnsRequest.account_id)),
        )
        .join(DnsRequest, col(DnsRequest.id) == col(DnsRecord.request_id))
        .outerjoin(NameOwner, col(NameOwner.domain) == col(DnsRecord.domain))
        .where(col(DnsRecord.deleted_at).is_(None), in_zone(col(DnsRecord.domain), zone))
    ).all()
    state = ManagedZone({}, {}, {})
    for domain, rtype, target, ttl, priority, comment, provisioned_at, config, owner in rows:
        extra = config.get("extra_config") if isinstance(config, dict) else None
        extra = extra if isinstance(extra, dict) else {}
        record = ManagedRecord(owner, target, ttl, priority, comment, extra)
        values = tuple(rdata_values(rtype, target, priority, extra))
        state.recorded[key(domain, rtype)] = Recorded(values, record)
        state.provisioned_at[key(domain, rtype)] = provisioned_at
    state.pending = unfinished_requests(conn, zone)
    return state


def unfinished_requests(conn: Connection, zone: str) -> dict[Key, str]:
    """Record sets of the zone that a request not yet finished is about to change (or waits on)."""
    rows = conn.execute(
        select(col(DnsRequest.domain), col(DnsRequest.record_type), col(DnsRequest.id))
        .where(col(DnsRequest.status).in_(UNFINISHED_STATUSES), in_zone(col(DnsRequest.domain), zone))
        .order_by(col(DnsRequest.created_at))
    ).all()
    return {key(domain, rtype): str(request_id) for domain, rtype, request_id in rows}
