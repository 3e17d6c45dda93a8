"""PostgreSQL side of a zone adoption: what dnsorch manages in the zone, and the adopted rows' writes.

An adopted record set is written as the request that would have made it, already COMPLETED
(source and actor `adoption`, one log line naming the operator and the zone), with its `dns_records`
row and its name's owner as a finishing workflow's `apply_record` writes them. No outbox event is
written: no client asked for these requests, so nobody waits for their status.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from dnsorch.contracts import UNFINISHED_STATUSES, DnsorchError, DnsRequestSpec, RequestStatus
from dnsorch.dns import closest_owner, owner_candidates, rdata_values
from dnsorch.store import DnsRecord, DnsRequest, NameOwner, NameTransfer
from dnsorch.store.request_rows import log_entry, request_values
from dnsorch.store.served_records import in_zone

ADOPTION_ACTOR = "adoption"


class OwnerChangedDuringAdoption(DnsorchError):
    """An operator transferred an adopted name between the plan's read and its write: nothing is kept."""


@dataclass
class ManagedZone:
    """What dnsorch manages in one zone now, read in three queries rather than a few per record set."""

    owners: dict[str, str]
    records: dict[tuple[str, str], tuple[list[str], int]]
    """(name, type) → the values it serves in presentation format, and its TTL."""
    cnames: set[str]
    """Managed CNAME names among the zone's MX and SRV targets (which may lie in another zone)."""
    under_way: set[tuple[str, str]] = field(default_factory=set)
    """(name, type) of record sets an unfinished request is about to change: left to it."""

    def owner_of(self, domain: str, zone: str) -> str | None:
        """Who owns `domain`, the way every other path reads it (ownership follows the tree)."""
        found = closest_owner(owner_candidates(domain, zone), self.owners)
        return found[1] if found else None

    def types_at(self, domain: str) -> set[str]:
        return {rtype for name, rtype in self.records if name == domain}


def hold_records(conn: Connection) -> None:
    """Make requests that complete now wait for this transaction (about a second per 1,000 adopted
    records) instead of landing between the plan's read and its write; reads go on."""
    conn.execute(text("LOCK TABLE dns_records IN SHARE ROW EXCLUSIVE MODE"))


def read_managed(conn: Connection, zone: str, targets: Iterable[str]) -> ManagedZone:
    rows = conn.execute(
        select(
            col(DnsRecord.domain),
            col(DnsRecord.record_type),
            col(DnsRecord.target),
            col(DnsRecord.ttl),
            col(DnsRecord.priority),
            col(DnsRequest.config),
        )
        .join(DnsRequest, col(DnsRequest.id) == col(DnsRecord.request_id))
        .where(col(DnsRecord.deleted_at).is_(None), in_zone(DnsRecord.domain, zone))
    ).all()
    managed = {
        (domain, rtype): (_served_values(rtype, target, priority, config), ttl)
        for domain, rtype, target, ttl, priority, config in rows
    }
    owned = conn.execute(
        select(col(NameOwner.domain), col(NameOwner.account_id)).where(in_zone(NameOwner.domain, zone))
    ).all()
    cnames = conn.execute(
        select(col(DnsRecord.domain)).where(
            col(DnsRecord.record_type) == "CNAME",
            col(DnsRecord.deleted_at).is_(None),
            col(DnsRecord.domain).in_(sorted(targets)),
        )
    ).scalars()
    under_way = conn.execute(
        select(col(DnsRequest.domain), col(DnsRequest.record_type)).where(
            col(DnsRequest.status).in_(UNFINISHED_STATUSES), in_zone(DnsRequest.domain, zone)
        )
    ).all()
    return ManagedZone(
        {domain: account for domain, account in owned},
        managed,
        set(cnames),
        {(domain, rtype) for domain, rtype in under_way},
    )


def _served_values(rtype: str, target: str, priority: int | None, config: dict[str, Any]) -> list[str]:
    """What a managed record serves, from its row and its request's config (SRV port and weight)."""
    extra = config.get("extra_config") if isinstance(config, dict) else None
    return rdata_values(rtype, target, priority, extra if isinstance(extra, dict) else {})


def write_adopted(
    conn: Connection, zone: str, owner: str, operator: str, adopting: list[tuple[DnsRequestSpec, bool]]
) -> tuple[int, int]:
    """Store each (spec, claims its name) as a managed record of `owner`; (record sets, names claimed)."""
    if not adopting:
        return 0, 0
    at = datetime.now(UTC)
    message = f"adopted from zone {zone} by {operator}: already served, nothing was sent to DNS"
    conn.execute(insert(DnsRequest), [_request_row(spec, at, message) for spec, _ in adopting])
    # What `apply_record` does for a create, in bulk (1,000 record sets: 0.8 s instead of 7.3 s): under
    # `hold_records` the plan found no current row for these names and types, so nothing is retired.
    conn.execute(insert(DnsRecord), [_record_values(spec, at) for spec, _ in adopting])
    owners = [
        {"domain": d, "account_id": owner, "since": at} for d in sorted({s.domain for s, _ in adopting})
    ]
    conn.execute(insert(NameOwner).on_conflict_do_nothing(index_elements=["domain"]), owners)
    claimed = sorted({spec.domain for spec, claims in adopting if claims})
    if claimed:
        note = f"adopted from zone {zone} by {operator}"
        conn.execute(
            insert(NameTransfer),
            [
                {
                    "domain": n,
                    "from_account": "",
                    "to_account": owner,
                    "actor": operator,
                    "note": note,
                    "at": at,
                }
                for n in claimed
            ],
        )
    names = sorted({spec.domain for spec, _ in adopting})
    moved = conn.execute(
        select(col(NameOwner.domain)).where(
            col(NameOwner.domain).in_(names), col(NameOwner.account_id) != owner
        )
    ).scalars()
    if taken := list(moved):
        raise OwnerChangedDuringAdoption(
            f"{', '.join(taken)} changed owner during the adoption; nothing was adopted, plan again"
        )
    return len(adopting), len(claimed)


def _request_row(spec: DnsRequestSpec, at: datetime, message: str) -> dict[str, Any]:
    """The COMPLETED request that made an adopted record: its history starts with the adoption."""
    row = request_values(spec, at)
    row["log_messages"] = [
        log_entry("adopted", at, message, status=RequestStatus.COMPLETED, step="adopt", actor=ADOPTION_ACTOR)
    ]
    row.update(status=RequestStatus.COMPLETED, workflow_id=None, event_seq=0)
    return row


def _record_values(spec: DnsRequestSpec, at: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "request_id": uuid.UUID(spec.request_id),
        "record_type": spec.record_type,
        "domain": spec.domain,
        "target": spec.target,
        "ttl": spec.ttl,
        "priority": spec.priority,
        "comment": spec.comment,
        "provisioned_at": at,
    }
