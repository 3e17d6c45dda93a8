"""Who owns a DNS name, read the one way every door and path asks it (dnsorch/dns/ownership.py).

Accept, the name's turn, PTRs, transfers and grants ask `owner_of`; a completed change calls
`claim` and `release`. Rows sit at owner names only: the first creator of `api.web.x` under no
owner gets `api.web.x`, a later create below it adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, String, bindparam, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from dnsorch.dns import closest_owner, owner_candidates
from dnsorch.store.models import DnsRecord, NameOwner


@dataclass(frozen=True)
class Owner:
    account_id: str
    owner_name: str
    """The name whose row decides: the name itself, or the closest owned name above it."""


_OWNERS = select(col(NameOwner.domain), col(NameOwner.account_id)).where(
    col(NameOwner.domain).in_(bindparam("o_candidates", expanding=True))
)
"""`owner_of`'s query, built once."""


def owner_of(conn: Connection, domain: str, zone: str) -> Owner | None:
    """The account that may change `domain` (None: nobody owns it or anything above it)."""
    candidates = owner_candidates(domain, zone) if zone else [domain]
    rows = conn.execute(_OWNERS, {"o_candidates": candidates})
    found = closest_owner(candidates, {row[0]: row[1] for row in rows})
    return None if found is None else Owner(found[1], found[0])


def claim(conn: Connection, domain: str, zone: str, account_id: str, at: datetime) -> None:
    """A completed create or update makes its account the owner, if nobody owns the name yet
    (no row at any of `owner_of`'s candidates); one statement."""
    candidates = owner_candidates(domain, zone) if zone else [domain]
    params = {"o_candidates": candidates, "o_domain": candidates[0], "o_account": account_id, "o_since": at}
    conn.execute(_CLAIM, params)


_CLAIM = (
    insert(NameOwner)
    .from_select(
        ["domain", "account_id", "since"],
        select(
            bindparam("o_domain", type_=String),
            bindparam("o_account", type_=String),
            bindparam("o_since", type_=DateTime(timezone=True)),
        ).where(
            ~select(col(NameOwner.domain))
            .where(col(NameOwner.domain).in_(bindparam("o_candidates", expanding=True)))
            .exists()
        ),
    )
    .on_conflict_do_nothing(index_elements=["domain"])
)
"""`claim`'s one statement, built once."""


def release(conn: Connection, domain: str, zone: str) -> None:
    """After a delete: the owner row that covered `domain` goes once no record is left at or below
    its name, unless an operator granted it."""
    owner = owner_of(conn, domain, zone)
    if owner is None:
        return
    left = select(col(DnsRecord.id)).where(
        col(DnsRecord.deleted_at).is_(None), _at_or_below(DnsRecord.domain, owner.owner_name)
    )
    conn.execute(
        delete(NameOwner).where(
            col(NameOwner.domain) == owner.owner_name, ~col(NameOwner.granted), ~left.exists()
        )
    )


def grant(conn: Connection, subtree: str, account_id: str, at: datetime) -> str | None:
    """An operator gives `subtree` to `account_id` for good; returns who had it before (if anyone
    had the name itself). Rows below it that its previous owner's creates left move with it."""
    before = conn.execute(
        select(col(NameOwner.account_id)).where(col(NameOwner.domain) == subtree).with_for_update()
    ).scalar_one_or_none()
    conn.execute(
        insert(NameOwner)
        .values(domain=subtree, account_id=account_id, since=at, granted=True)
        .on_conflict_do_update(
            index_elements=["domain"], set_={"account_id": account_id, "since": at, "granted": True}
        )
    )
    if before is not None and before != account_id:
        move_below(conn, subtree, before, account_id, at)
        move_ptrs(conn, subtree, before, account_id, at)
    return before


def move_below(conn: Connection, subtree: str, from_account: str, to_account: str, at: datetime) -> None:
    """Rows strictly below `subtree` that `from_account` holds without a grant follow the subtree."""
    conn.execute(
        update(NameOwner)
        .where(col(NameOwner.domain).endswith("." + subtree, autoescape=True))
        .where(col(NameOwner.account_id) == from_account, ~col(NameOwner.granted))
        .values(account_id=to_account, since=at)
    )


def move_ptrs(conn: Connection, subtree: str, from_account: str, to_account: str, at: datetime) -> None:
    """The PTRs dnsorch keeps for names at or below `subtree` belong to their forward record's owner:
    they move with it, so the new owner's later A/AAAA changes can keep them."""
    kept = select(col(DnsRecord.domain)).where(
        col(DnsRecord.record_type) == "PTR",
        col(DnsRecord.deleted_at).is_(None),
        _at_or_below(DnsRecord.target, subtree),
    )
    conn.execute(
        update(NameOwner)
        .where(col(NameOwner.domain).in_(kept), col(NameOwner.account_id) == from_account)
        .values(account_id=to_account, since=at)
    )


def _at_or_below(column: Any, name: str) -> Any:
    return or_(col(column) == name, col(column).endswith("." + name, autoescape=True))
