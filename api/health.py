"""Liveness (`/healthz`, cheap) and readiness (`/readyz`: PostgreSQL and Temporal reachable)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dnsorch.store import ping

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_SECONDS = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(asyncio.to_thread(ping, state.engine), CHECK_TIMEOUT_SECONDS)
        checks["postgresql"] = "ok"
    except Exception as error:  # any failure means not ready; the reason is reported
        checks["postgresql"] = f"unavailable: {type(error).__name__}"
    try:
        await asyncio.wait_for(state.temporal.service_client.check_health(), CHECK_TIMEOUT_SECONDS)
        checks["temporal"] = "ok"
    except Exception as error:
        checks["temporal"] = f"unavailable: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
