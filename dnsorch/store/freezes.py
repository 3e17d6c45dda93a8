"""Freeze windows in PostgreSQL: an operator's declared time when requests in a zone (or in every
zone) wait, and the one question the workflow asks of them: what freezes zone Z at time T?

A window holds from `starts_at` (inclusive) until `ends_at` (exclusive), unless an operator ended
it early (`cancelled_at`, from then on it holds nothing). Where windows overlap, the one ending last
answers, so a request waits once for the whole freeze rather than once per window.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from dnsorch.contracts import Freeze, RequestStatus, workflow_id_for
from dnsorch.store.models import DnsRequest, FreezeWindow


def create(
    engine: Engine, zone: str | None, starts_at: datetime, ends_at: datetime, reason: str, created_by: str
) -> FreezeWindow:
    """Store a window (already validated: dnsorch/requests/freezes.py) and answer it."""
    window = FreezeWindow(
        zone=zone, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by=created_by
    )
    with Session(engine, expire_on_commit=False) as session:
        session.add(window)
        session.commit()
    return window


def get(engine: Engine, window_id: uuid.UUID) -> FreezeWindow | None:
    with Session(engine) as session:
        return session.get(FreezeWindow, window_id)


def list_current(engine: Engine, now: datetime) -> list[FreezeWindow]:
    """The windows that hold now or will: not ended, not cancelled; soonest first."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(FreezeWindow)
                .where(col(FreezeWindow.ends_at) > now, col(FreezeWindow.cancelled_at).is_(None))
                .order_by(col(FreezeWindow.starts_at), col(FreezeWindow.ends_at))
            ).all()
        )


def cancel(engine: Engine, window_id: uuid.UUID, now: datetime) -> FreezeWindow | None:
    """End a window at `now` (an operator ends it early); None when there is no such window. A window
    already ended or cancelled is answered unchanged: ending it again changes nothing."""
    with Session(engine, expire_on_commit=False) as session:
        window = session.get(FreezeWindow, window_id)
        if window is not None and window.cancelled_at is None and window.ends_at > now:
            window.cancelled_at = now
            session.add(window)
            session.commit()
        return window


def freeze_at(engine: Engine, zone: str, at: datetime) -> Freeze | None:
    """The window that freezes `zone` at `at`, if any: of those covering `at` (the zone's own and the
    ones for every zone), the one ending last."""
    zone = zone.rstrip(".").lower()
    with Session(engine) as session:
        window = session.exec(
            select(FreezeWindow)
            .where(
                col(FreezeWindow.starts_at) <= at,
                col(FreezeWindow.ends_at) > at,
                col(FreezeWindow.cancelled_at).is_(None),
                or_(col(FreezeWindow.zone).is_(None), col(FreezeWindow.zone) == zone),
            )
            .order_by(col(FreezeWindow.ends_at).desc())
            .limit(1)
        ).first()
    if window is None:
        return None
    return Freeze(window_id=str(window.id), ends_at=window.ends_at, reason=window.reason, zone=window.zone)


def frozen_workflow_ids(engine: Engine) -> list[str]:
    """The workflows of the requests waiting in FROZEN now (to wake when a window ends early)."""
    with Session(engine) as session:
        rows = session.exec(
            select(DnsRequest.id, DnsRequest.workflow_id).where(
                DnsRequest.status == RequestStatus.FROZEN.value
            )
        ).all()
    return [workflow_id or workflow_id_for(str(request_id)) for request_id, workflow_id in rows]
