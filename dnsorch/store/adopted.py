"""PostgreSQL side of a zone adoption: the adopted rows' writes (what dnsorch already manages in the
zone is read by managed_zone.py, as drift reads it).

An adopted record set is written as the request that would have made it, already COMPLETED
(source and actor `adoption`, one log line naming the operator and the zone), with its `dns_records`
row and its name's owner as a finishing workflow's `apply_record` writes them. No outbox event is
written: no client asked for these requests, so nobody waits for their status.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from dnsorch.contracts import DnsorchError, DnsRequestSpec, RequestStatus
from dnsorch.store.models import DnsRecord, DnsRequest, NameOwner, NameTransfer
from dnsorch.store.request_rows import log_entry, request_values

ADOPTION_ACTOR = "adoption"


class OwnerChangedDuringAdoption(DnsorchError):
    """An operator transferred an adopted name between the plan's read and its write: nothing is kept."""


def hold_records(conn: Connection) -> None:
    """Make requests that complete now wait for this transaction (about a second per 1,000 adopted
    records) instead of landing between the plan's read and its write; reads go on."""
    conn.execute(text("LOCK TABLE dns_records IN SHARE ROW EXCLUSIVE MODE"))


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
