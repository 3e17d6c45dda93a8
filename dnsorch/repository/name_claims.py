"""Name claims: which request may change a DNS name now, in the order the requests were accepted.

The apply activity waits for its claim (activities/name_claims.py); the holder's next status
releases it in the same transaction (`request_rows.append_step`).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from dnsorch.models import NameClaim

_OLDER_IN_PROGRESS = text(
    """
    SELECT other.id
      FROM dns_requests AS other, dns_requests AS mine
     WHERE mine.id = :id
       AND other.domain = mine.domain
       AND other.id <> mine.id
       AND other.status = 'IN_PROGRESS'
       AND (other.created_at, other.id) < (mine.created_at, mine.id)
       AND other.updated_at > now() - make_interval(secs => :lease)
     ORDER BY other.created_at, other.id
     LIMIT 1
    """
)


def claim_name(conn: Connection, domain: str, request_id: str, lease_seconds: float) -> str:
    """Try to become the one request changing `domain`; returns who may go now (maybe us).

    A request may go when nobody holds the name (or the holder's claim is older than the lease:
    its workflow was terminated) and no request accepted before it still waits to change the
    name, so changes to one name apply in the order they were accepted. The holder keeps the
    claim across its retries; its next status releases it (`request_rows.append_step`).
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('name_claims'), hashtext(:d))"), {"d": domain})
    mine = uuid.UUID(request_id)
    holder = conn.execute(
        select(NameClaim.request_id, NameClaim.claimed_at)  # type: ignore[call-overload]
        .where(col(NameClaim.domain) == domain)
        .where(col(NameClaim.claimed_at) > func.now() - func.make_interval(0, 0, 0, 0, 0, 0, lease_seconds))
    ).first()
    if holder is not None and holder.request_id != mine:
        return str(holder.request_id)
    if holder is None:
        older = conn.execute(_OLDER_IN_PROGRESS, {"id": mine, "lease": lease_seconds}).scalar_one_or_none()
        if older is not None:
            return str(older)
    conn.execute(
        insert(NameClaim)
        .values(domain=domain, request_id=mine, claimed_at=func.now())
        .on_conflict_do_update(index_elements=["domain"], set_={"request_id": mine, "claimed_at": func.now()})
    )
    return request_id


def release_names(conn: Connection, request_id: str) -> None:
    conn.execute(delete(NameClaim).where(col(NameClaim.request_id) == uuid.UUID(request_id)))
