"""One JSON error shape for the whole API: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dnsorch.errors import (
    DnsorchError,
    IdempotencyConflict,
    IllegalTransition,
    InvalidRequest,
    RequestFinished,
    RequestNotFound,
    ServiceUnavailable,
)

_STATUS = {
    InvalidRequest: (422, "invalid_request"),
    RequestNotFound: (404, "not_found"),
    RequestFinished: (409, "request_finished"),
    ServiceUnavailable: (503, "service_unavailable"),
    IllegalTransition: (409, "illegal_transition"),
    IdempotencyConflict: (409, "idempotency_conflict"),
}


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    status, code = next(
        (value for kind, value in _STATUS.items() if isinstance(exc, kind)), (500, "internal_error")
    )
    details = [{"field": exc.field, "reason": exc.reason}] if isinstance(exc, InvalidRequest) else []
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(error_body(code, str(exc), details), status_code=status, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"field": _field_of(tuple(e.get("loc", ()))), "reason": e.get("msg", "")} for e in exc.errors()
    ]
    message = "; ".join(f"{d['field']}: {d['reason']}" for d in details) or "invalid request"
    return JSONResponse(error_body("invalid_request", message, details), status_code=422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DnsorchError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
