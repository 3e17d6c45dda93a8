"""Managed names and their owners: who owns a name, and an operator's transfer or grant of it.

Ownership follows the tree of names (dnsorch/dns/ownership.py): a transfer moves a name with what
is below it; a grant gives a subtree to an account for good, whether or not it holds records yet.
Both are logged in `name_transfers` with the operator and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import dns.name
from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from dnsorch.contracts import InvalidRequest, NameNotManaged
from dnsorch.dns import names as dns_names
from dnsorch.store import owners
from dnsorch.store.models import NameOwner, NameTransfer


@dataclass
class Transfer:
    from_account: str
    to_account: str
    actor: str
    note: str
    at: datetime


@dataclass
class ManagedName:
    domain: str
    account_id: str
    since: datetime
    transfers: list[Transfer] = field(default_factory=list)


def get(engine: Engine, domain: str) -> ManagedName:
    """The name's owner and its transfers, oldest first; NameNotManaged when nobody owns it."""
    with engine.connect() as conn:
        owner = conn.execute(select(NameOwner).where(col(NameOwner.domain) == domain)).first()
        if owner is None:
            raise NameNotManaged(domain)
        rows = conn.execute(
            select(NameTransfer).where(col(NameTransfer.domain) == domain).order_by(col(NameTransfer.at))
        ).all()
    transfers = [Transfer(r.from_account, r.to_account, r.actor, r.note, r.at) for r in rows]
    return ManagedName(domain, owner.account_id, owner.since, transfers)


def grantable(domain: str, zones: list[str]) -> str:
    """The subtree a grant names, as stored: a name DNS can hold (labels may be `_service` ones),
    inside a managed zone; InvalidRequest otherwise."""
    subtree = dns_names.parse_name(domain, field="domain", allow_service_labels=True)
    if not any(subtree.is_subdomain(dns.name.from_text(zone)) for zone in zones):
        raise InvalidRequest("domain", f"{dns_names.name_text(subtree)!r} is not inside a managed zone")
    return dns_names.name_text(subtree)


def grant(engine: Engine, subtree: str, to_account: str, actor: str, note: str = "") -> ManagedName:
    """Give `subtree` (the name and everything below it, down to other grants) to `to_account`."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        before = owners.grant(conn, subtree, to_account, now)
        if before != to_account:
            conn.execute(
                insert(NameTransfer).values(
                    domain=subtree,
                    from_account=before or "",
                    to_account=to_account,
                    actor=actor,
                    note=f"grant: {note}" if note else "grant",
                    at=now,
                )
            )
    return get(engine, subtree)


def transfer(engine: Engine, domain: str, to_account: str, actor: str, note: str = "") -> ManagedName:
    """Give the name to `to_account`, logged with the operator and the reason, in one transaction."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        owner = conn.execute(
            select(col(NameOwner.account_id)).where(col(NameOwner.domain) == domain).with_for_update()
        ).scalar_one_or_none()
        if owner is None:
            raise NameNotManaged(domain)
        if owner != to_account:
            conn.execute(
                update(NameOwner)
                .where(col(NameOwner.domain) == domain)
                .values(account_id=to_account, since=now)
            )
            conn.execute(
                insert(NameTransfer).values(
                    domain=domain, from_account=owner, to_account=to_account, actor=actor, note=note, at=now
                )
            )
            owners.move_below(conn, domain, owner, to_account, now)
            owners.move_ptrs(conn, domain, owner, to_account, now)
    return get(engine, domain)
