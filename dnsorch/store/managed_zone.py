"""What dnsorch manages in one zone now, read the one way drift and adoption both ask it: the record
sets it keeps (the PTRs included), who owns the zone's names, and the requests still under way there
(a record set one of them is changing is left to it). A few queries per zone, not a few per record set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import dns.exception
import dns.name
from sqlalchemy import Connection, or_, select, tuple_
from sqlmodel import col

from dnsorch.contracts import UNFINISHED_STATUSES, InvalidRequest, ManagedRecord
from dnsorch.dns import (
    closest_owner,
    is_reverse_zone,
    owner_candidates,
    rdata_values,
    reverse_zone_of,
    zone_of,
)
from dnsorch.dns.comparison import Key, Recorded, key
from dnsorch.store.models import DnsRecord, DnsRequest, NameClaim, NameOwner
from dnsorch.store.served_records import in_zone


@dataclass
class ManagedZone:
    recorded: dict[Key, Recorded]
    """The managed record sets: the values dnsorch makes the servers serve, and the row behind them
    with the account a restore would act for (see `read_managed_zone`)."""
    provisioned_at: dict[Key, datetime]
    pending: dict[Key, str]
    """Record sets with an unfinished request (any source), and that request's id."""
    owners: dict[str, str] = field(default_factory=dict)
    """The owner rows at the zone's names and at its PTRs' forward names: {name: account}."""
    cnames: set[str] = field(default_factory=set)
    """Managed CNAME names among the targets asked for (MX and SRV targets may lie in another zone)."""

    def owner_of(self, domain: str, zone: str) -> str | None:
        """Who owns `domain`, the way every other path reads it (ownership follows the tree)."""
        found = closest_owner(owner_candidates(domain, zone), self.owners)
        return found[1] if found else None

    def types_at(self, domain: str) -> set[str]:
        return set(self._types_by_name.get(dns.name.from_text(domain), ()))

    @cached_property
    def _types_by_name(self) -> dict[dns.name.Name, set[str]]:
        types: dict[dns.name.Name, set[str]] = {}
        for name, rtype in self.recorded:
            types.setdefault(name, set()).add(rtype)
        return types


def read_managed_zone(
    conn: Connection, zone: str, zones: Iterable[str] = (), targets: Iterable[str] = ()
) -> ManagedZone:
    """The zone's current records, each with the account a restore would act for: the owner of its
    name as ownership reads it (dnsorch/dns/ownership.py), for a PTR the owner of the forward record
    it names (dnsorch keeps the PTR for that record), else the account that requested it.
    `zones`: the managed zones, where a PTR's forward name is looked for. `targets`: names whose
    managed CNAMEs to read as well (an adoption's MX and SRV targets)."""
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
            col(DnsRequest.account_id),
        )
        .join(DnsRequest, col(DnsRequest.id) == col(DnsRecord.request_id))
        .where(col(DnsRecord.deleted_at).is_(None), in_zone(col(DnsRecord.domain), zone))
    ).all()
    zones = list(zones)
    deciding = {(row[0], row[1]): _deciding_names(row[0], row[1], row[2], zone, zones) for row in rows}
    owners = _owners(conn, zone, {name for names in deciding.values() for name in names})
    state = ManagedZone({}, {}, {}, owners, _managed_cnames(conn, targets))
    for domain, rtype, target, ttl, priority, comment, provisioned_at, config, requester in rows:
        extra = config.get("extra_config") if isinstance(config, dict) else None
        extra = extra if isinstance(extra, dict) else {}
        owner = closest_owner(deciding[(domain, rtype)], owners)
        record = ManagedRecord(owner[1] if owner else requester, target, ttl, priority, comment, extra)
        values = tuple(rdata_values(rtype, target, priority, extra))
        state.recorded[key(domain, rtype)] = Recorded(values, record)
        state.provisioned_at[key(domain, rtype)] = provisioned_at
    state.pending = unfinished_requests(conn, zone)
    return state


def _deciding_names(domain: str, rtype: str, target: str, zone: str, zones: list[str]) -> list[str]:
    """The names whose owner row decides who owns the record set, closest first, each below the
    managed zone that holds it (as accept reads it): for a PTR, its forward name's before its own."""
    own = owner_candidates(domain, _zone_of(domain, zones) or zone)
    forward_zone = _zone_of(target, zones) if rtype == "PTR" else None
    if forward_zone is None:  # not a PTR, or its forward record's zone is no longer managed
        return own
    return [*owner_candidates(target, forward_zone), *own]


def _zone_of(name: str, zones: list[str]) -> dns.name.Name | None:
    try:
        return zone_of(dns.name.from_text(name), zones)
    except InvalidRequest:
        return None


def _owners(conn: Connection, zone: str, names: set[str]) -> dict[str, str]:
    """The owner rows in the zone and at `names` (a PTR's forward name may lie in another zone)."""
    where = in_zone(col(NameOwner.domain), zone)
    if names:
        where = or_(where, col(NameOwner.domain).in_(names))
    rows = conn.execute(select(col(NameOwner.domain), col(NameOwner.account_id)).where(where))
    return {name: account for name, account in rows}


def _managed_cnames(conn: Connection, targets: Iterable[str]) -> set[str]:
    names = sorted(targets)
    if not names:
        return set()
    found = conn.execute(
        select(col(DnsRecord.domain)).where(
            col(DnsRecord.record_type) == "CNAME",
            col(DnsRecord.deleted_at).is_(None),
            col(DnsRecord.domain).in_(names),
        )
    ).scalars()
    return set(found)


def unfinished_requests(conn: Connection, zone: str) -> dict[Key, str]:
    """Record sets of the zone that a request not yet finished is about to change (or waits on):
    its own, and the PTRs its apply changes (the PTR names it holds a claim on, patch ptr-in-apply)."""
    rows = conn.execute(
        select(col(DnsRequest.domain), col(DnsRequest.record_type), col(DnsRequest.id))
        .where(col(DnsRequest.status).in_(UNFINISHED_STATUSES), in_zone(col(DnsRequest.domain), zone))
        .order_by(col(DnsRequest.created_at))
    ).all()
    pending = {key(domain, rtype): str(request_id) for domain, rtype, request_id in rows}
    claimed = conn.execute(
        select(col(NameClaim.domain), col(NameClaim.request_id))
        .join(DnsRequest, col(DnsRequest.id) == col(NameClaim.request_id))
        .where(
            col(DnsRequest.status).in_(UNFINISHED_STATUSES),
            col(NameClaim.domain) != col(DnsRequest.domain),
            in_zone(col(NameClaim.domain), zone),
        )
    ).all()
    for domain, request_id in claimed:
        pending.setdefault(key(domain, "PTR"), str(request_id))
    if is_reverse_zone(zone):
        for name, mover in _forward_ptrs(conn, zone):
            pending.setdefault(key(name, "PTR"), mover)
    return pending


def _forward_ptrs(conn: Connection, zone: str) -> Iterator[tuple[str, str]]:
    """The PTR names in reverse `zone` that an unfinished A or AAAA request may change in its own
    apply: its new address's, and the one of the address it replaces. Its claims on them go with its
    next status, so a request waiting for an operator holds none, and still owns the change."""
    forwards = conn.execute(
        select(
            col(DnsRequest.domain), col(DnsRequest.record_type), col(DnsRequest.target), col(DnsRequest.id)
        )
        .where(
            col(DnsRequest.status).in_(UNFINISHED_STATUSES), col(DnsRequest.record_type).in_(("A", "AAAA"))
        )
        .order_by(col(DnsRequest.created_at))
    ).all()
    if not forwards:
        return
    recorded: dict[tuple[str, str], list[str]] = {}
    for domain, rtype, target in conn.execute(
        select(col(DnsRecord.domain), col(DnsRecord.record_type), col(DnsRecord.target)).where(
            col(DnsRecord.deleted_at).is_(None),
            tuple_(col(DnsRecord.domain), col(DnsRecord.record_type)).in_([(f[0], f[1]) for f in forwards]),
        )
    ):
        recorded.setdefault((domain, rtype), []).append(target)
    for domain, rtype, target, request_id in forwards:
        for address in [target, *recorded.get((domain, rtype), [])]:
            try:
                found = reverse_zone_of(address, [zone])
            except (ValueError, dns.exception.DNSException):
                continue  # a delete carries no address
            if found is not None:
                yield found[0], str(request_id)
