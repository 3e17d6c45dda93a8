"""Freeze windows, shared by API v2 and the CLI (through it): declare one, list those that hold now or
will, end one early. The rules live here; dnsorch/store/freezes.py holds the SQL and
workflows/freeze.py the wait.

A window ended early reaches the requests it holds at once: each FROZEN request's workflow is
signalled to ask again (they would otherwise ask within the hour, FREEZE_RECHECK).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from dnsorch.contracts import InvalidRequest, ServiceUnavailable
from dnsorch.store import FreezeWindow, freezes
from dnsorch.temporal import ProvisioningGateway, WorkflowNotFound

log = logging.getLogger(__name__)
MAX_WINDOW = timedelta(days=366)
"""The longest freeze: a window is a pause, not a way to close a zone for good."""


class FreezeNotFound(LookupError):
    """No freeze window with that id (HTTP 404)."""


def check_window(
    zone: str | None, starts_at: datetime | None, ends_at: datetime, zones: list[str], now: datetime
) -> tuple[str | None, datetime, datetime]:
    """The window as stored: a managed zone (or None: every zone), times in UTC; InvalidRequest
    (422) naming the field otherwise. It may have begun already, but must end ahead of now."""
    if zone is not None:
        zone = zone.rstrip(".").lower()
        managed = [z.rstrip(".").lower() for z in zones]
        if zone not in managed:
            raise InvalidRequest("zone", f"{zone} is not a zone dnsorch manages ({', '.join(managed)})")
    for field, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise InvalidRequest(field, "needs a UTC offset, e.g. 2027-01-31T22:00:00Z")
    starts = (starts_at or now).astimezone(UTC)
    ends = ends_at.astimezone(UTC)
    if ends <= starts:
        raise InvalidRequest("ends_at", f"{ends.isoformat()} is not after starts_at ({starts.isoformat()})")
    if ends <= now:
        raise InvalidRequest("ends_at", f"{ends.isoformat()} has passed")
    if ends - starts > MAX_WINDOW:
        raise InvalidRequest("ends_at", f"the window is longer than {MAX_WINDOW.days} days")
    return zone, starts, ends


async def declare(
    engine: Engine,
    zones: list[str],
    *,
    zone: str | None,
    starts_at: datetime | None,
    ends_at: datetime,
    reason: str,
    actor: str,
) -> FreezeWindow:
    """Store a window; requests that reach their first plan while it holds wait in FROZEN."""
    zone, starts, ends = check_window(zone, starts_at, ends_at, zones, datetime.now(UTC))
    window = await _db(freezes.create, engine, zone, starts, ends, reason, actor)
    log.info("freeze %s declared by %s: %s, %s → %s", window.id, actor, zone or "all zones", starts, ends)
    return window


async def current(engine: Engine) -> list[FreezeWindow]:
    """The windows that hold now or will, soonest first."""
    return await _db(freezes.list_current, engine, datetime.now(UTC))


async def end(engine: Engine, gateway: ProvisioningGateway, window_id: uuid.UUID, actor: str) -> FreezeWindow:
    """End a window now (one that has ended already is answered as it is), then wake the FROZEN
    requests so that those it held go ahead at once."""
    window = await _db(freezes.cancel, engine, window_id, datetime.now(UTC))
    if window is None:
        raise FreezeNotFound(f"freeze window {window_id} not found")
    log.info("freeze %s ended by %s", window_id, actor)
    for workflow_id in await _db(freezes.frozen_workflow_ids, engine):
        try:
            await gateway.freezes_changed(workflow_id)
        except WorkflowNotFound:
            continue  # it ended meanwhile
        except ServiceUnavailable:  # it asks again within the hour all the same (FREEZE_RECHECK)
            log.warning(
                "could not tell %s that freeze %s ended: Temporal did not answer", workflow_id, window_id
            )
            break
    return window


async def _db(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return await asyncio.to_thread(fn, *args)
    except OperationalError as error:
        raise ServiceUnavailable.postgresql() from error
