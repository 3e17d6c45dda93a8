"""v2 routes for freeze windows (operators only): declare one, list the current and future ones, end
one early. The rules are dnsorch/requests/freezes.py's."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, status

from api.deps import EngineDep, OperateDep, SettingsDep
from api.security import Operator
from api.v2.schemas import FreezeBody, FreezeOut, FreezePage
from dnsorch.requests import freezes
from dnsorch.store import FreezeWindow

router = APIRouter(prefix="/freezes")


@router.post("", response_model=FreezeOut, status_code=status.HTTP_201_CREATED)
async def declare_freeze(
    body: FreezeBody, engine: EngineDep, settings: SettingsDep, caller: Operator
) -> FreezeOut:
    """Freeze a zone (or every zone) for a while: requests that reach their first plan meanwhile wait
    in FROZEN. 422 for a zone dnsorch does not manage or times it cannot keep."""
    window = await freezes.declare(
        engine,
        settings.dns_zones,
        zone=body.zone,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        reason=body.reason,
        actor=caller.actor,
    )
    return _out(window)


@router.get("", response_model=FreezePage)
async def list_freezes(engine: EngineDep, caller: Operator) -> FreezePage:
    """The windows that hold now or will (not ended, not ended early), soonest first."""
    return FreezePage(items=[_out(window) for window in await freezes.current(engine)])


@router.delete("/{window_id}", response_model=FreezeOut)
async def end_freeze(window_id: uuid.UUID, operate: OperateDep, caller: Operator) -> FreezeOut:
    """End a window now; the requests it held go ahead. 404 for an unknown window."""
    try:
        window = await freezes.end(operate.engine, operate.gateway, window_id, caller.actor)
    except freezes.FreezeNotFound as missing:
        raise HTTPException(status_code=404, detail=str(missing)) from None
    return _out(window)


def _out(window: FreezeWindow) -> FreezeOut:
    return FreezeOut.model_validate(window, from_attributes=True)
