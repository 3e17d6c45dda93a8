"""Name claims: which request may change a DNS name now, in the order the requests were accepted.

The apply activity waits for its claim (activities/name_claims.py); the holder's next status
releases it in the same transaction (`request_rows.append_step`).

A claim also covers the names whose owner it may decide (dnsorch/dns/ownership.py): while one
account changes `shop`, another account's change at `cdn.shop` or `_acme-challenge.shop` waits,
and the reverse, so the owner row the first one's completion writes is read by the second.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from dnsorch.dns import owner_candidates, owner_name
from dnsorch.store.models import DnsRequest, NameClaim

# Older requests at the claimed name itself: a request claiming its PTR's name (ptr-in-apply) must
# not wait for older requests at its own forward name, which wait for the name it holds.
_OLDER_IN_PROGRESS = text(
    """
    SELECT other.id
      FROM dns_requests AS other, dns_requests AS mine
     WHERE mine.id = :id
       AND other.domain = :domain
       AND other.id <> mine.id
       AND other.status = 'IN_PROGRESS'
       AND (other.created_at, other.id) < (mine.created_at, mine.id)
       AND other.updated_at > now() - make_interval(secs => :lease)
     ORDER BY other.created_at, other.id
     LIMIT 1
    """
)


# The statements below are built once, with bind parameters (building them cost more CPU than running
# them); `:c_lease` is the lease in seconds.
_FRESH = col(NameClaim.claimed_at) > func.now() - func.make_interval(0, 0, 0, 0, 0, 0, bindparam("c_lease"))
"""A claim younger than the lease."""
_HOLDER = (
    select(NameClaim.request_id, NameClaim.claimed_at)  # type: ignore[call-overload]
    .where(col(NameClaim.domain) == bindparam("c_domain"))
    .where(_FRESH)
)
_TAKE = (
    insert(NameClaim)
    .values(domain=bindparam("c_domain"), request_id=bindparam("c_mine"), claimed_at=func.now())
    .on_conflict_do_update(
        index_elements=["domain"], set_={"request_id": bindparam("c_mine"), "claimed_at": func.now()}
    )
)
_RELATED = (
    select(col(NameClaim.domain), col(NameClaim.request_id))
    .join(DnsRequest, col(DnsRequest.id) == col(NameClaim.request_id))
    .where(
        col(NameClaim.request_id) != bindparam("c_mine"), col(DnsRequest.account_id) != bindparam("c_account")
    )
    .where(_FRESH)
    .where(
        or_(
            col(NameClaim.domain).in_(bindparam("c_candidates", expanding=True)),
            col(NameClaim.domain).like(bindparam("c_below"), escape="/"),
        )
    )
)
_RENEW = (
    update(NameClaim)
    .where(col(NameClaim.domain) == bindparam("c_domain"), col(NameClaim.request_id) == bindparam("c_mine"))
    .where(_FRESH)
    .values(claimed_at=func.now())
)
_RENEW_ALL = (
    update(NameClaim)
    .where(
        col(NameClaim.domain).in_(bindparam("c_domains", expanding=True)),
        col(NameClaim.request_id) == bindparam("c_mine"),
    )
    .where(_FRESH)
    .values(claimed_at=func.now())
    .returning(col(NameClaim.domain))
)


def _ends_with(suffix: str) -> str:
    """A LIKE pattern for names ending in `suffix`, taken literally (escape character `/`)."""
    return "%" + suffix.replace("/", "//").replace("%", "/%").replace("_", "/_")


def claim_name(
    conn: Connection,
    domain: str,
    request_id: str,
    lease_seconds: float,
    *,
    zone: str = "",
    account_id: str = "",
) -> str:
    """Try to become the one request changing `domain`; returns who may go now (maybe us).

    A request may go when nobody holds the name (or the holder's claim is older than the lease:
    its workflow was terminated) and no request accepted before it still waits to change the
    name, so changes to one name apply in the order they were accepted. The holder keeps the
    claim across its retries; its next status releases it (`request_rows.append_step`).

    With `zone` and `account_id`, it also waits while another account holds a name related to
    `domain` by ownership (`related_held`).
    """
    candidates = owner_candidates(domain, zone) if zone else [domain]
    # Names related by ownership share their highest candidate, so one lock serialises them.
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('name_claims'), hashtext(:d))"), {"d": candidates[-1]}
    )
    mine = uuid.UUID(request_id)
    holder = conn.execute(_HOLDER, {"c_domain": domain, "c_lease": lease_seconds}).first()
    if holder is not None and holder.request_id != mine:
        return str(holder.request_id)
    if holder is None:
        older = conn.execute(
            _OLDER_IN_PROGRESS, {"id": mine, "domain": domain, "lease": lease_seconds}
        ).scalar_one_or_none()
        if older is not None:
            return str(older)
    if zone and account_id:
        other = related_held(conn, domain, zone, account_id, mine, lease_seconds)
        if other is not None:
            return other
    conn.execute(_TAKE, {"c_domain": domain, "c_mine": mine})
    return request_id


def related_held(
    conn: Connection, domain: str, zone: str, account_id: str, mine: uuid.UUID, lease_seconds: float
) -> str | None:
    """A request of another account holding a name whose owner row would decide `domain`'s owner,
    or whose owner `domain`'s own row would decide (an ancestor or a descendant in the tree)."""
    candidates = owner_candidates(domain, zone)
    rows = conn.execute(
        _RELATED,
        {
            "c_mine": mine,
            "c_account": account_id,
            "c_lease": lease_seconds,
            "c_candidates": candidates,
            "c_below": _ends_with("." + candidates[0]),
        },
    )
    for other, holder in rows:
        if owner_name(other, zone) in candidates or candidates[0] in owner_candidates(other, zone):
            return str(holder)
    return None


def renew(conn: Connection, domain: str, request_id: str, lease_seconds: float) -> bool:
    """If `request_id` holds `domain` (a claim younger than the lease), start its lease again and
    say so; a holder's every retry renews it, as claiming again did."""
    params = {"c_domain": domain, "c_mine": uuid.UUID(request_id), "c_lease": lease_seconds}
    return conn.execute(_RENEW, params).rowcount == 1


def renew_all(conn: Connection, domains: list[str], request_id: str, lease_seconds: float) -> set[str]:
    """`renew` for several names at once, in one statement: the names `request_id` holds, renewed."""
    params = {"c_domains": domains, "c_mine": uuid.UUID(request_id), "c_lease": lease_seconds}
    renewed = conn.execute(_RENEW_ALL, params)
    return set(renewed.scalars())


def release_names(conn: Connection, request_id: str) -> None:
    conn.execute(delete(NameClaim).where(col(NameClaim.request_id) == uuid.UUID(request_id)))
