"""One JSON error shape for the whole API: {"error": {"code", "message", "details"}}, as documented.

The handlers below answer every refusal in that shape, and `install_error_handlers` makes the served
OpenAPI say so: FastAPI would document its own 422 body, which this API never sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from dnsorch import contracts as domain

_STATUS = {
    domain.InvalidRequest: (422, "invalid_request"),
    domain.RequestNotFound: (404, "not_found"),
    domain.RequestFinished: (409, "request_finished"),
    domain.ServiceUnavailable: (503, "service_unavailable"),
    domain.IllegalTransition: (409, "illegal_transition"),
    domain.FourEyes: (403, "four_eyes"),
    domain.AlreadyApproved: (409, "already_approved"),
    domain.IdempotencyConflict: (409, "idempotency_conflict"),
    domain.NameOwnedByAnotherAccount: (409, "name_owned_by_another_account"),
    domain.NameNotManaged: (404, "name_not_managed"),
}


class ErrorDetail(BaseModel):
    field: str = Field(
        description="What is wrong: a dotted path into the body (`resource.target`), `body` for the body"
        " as a whole, or `query.<name>`, `path.<name>`, `header.<name>`."
    )
    reason: str


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable and machine-readable, e.g. `invalid_request`, `not_found`.")
    message: str = Field(description="For people: what went wrong and what to change.")
    details: list[ErrorDetail] = Field(description="One entry per refused field (422); often empty.")


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorInfo


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def _detail_of(error: dict[str, Any]) -> dict[str, str]:
    """A pydantic/FastAPI error as {field, reason}; a body that is not JSON is the body's fault."""
    if error.get("type") == "json_invalid":
        loc = tuple(error.get("loc", ()))
        where = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
        cause = (error.get("ctx") or {}).get("error", "malformed")
        return {"field": "body", "reason": f"is not valid JSON: {cause}{where}"}
    return {"field": _field_of(tuple(error.get("loc", ()))), "reason": str(error.get("msg", ""))}


def _unreadable_body(cause: BaseException) -> str:
    """Why FastAPI could not parse the body (it says only "There was an error parsing the body")."""
    if isinstance(cause, UnicodeDecodeError):
        return f"is not JSON text: {cause.reason} at byte {cause.start} (send UTF-8)"
    if isinstance(cause, RecursionError):
        return "is nested too deeply"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "holds a number with too many digits"
    return "could not be read as JSON"


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    status, code = next(
        (value for kind, value in _STATUS.items() if isinstance(exc, kind)), (500, "internal_error")
    )
    if isinstance(exc, domain.RecordConflict):  # each kind of conflict names itself
        status, code = 409, exc.code
    details = [{"field": exc.field, "reason": exc.reason}] if isinstance(exc, domain.InvalidRequest) else []
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(error_body(code, str(exc), details), status_code=status, headers=headers)


def _invalid(details: list[dict[str, str]]) -> JSONResponse:
    message = "; ".join(f"{d['field']}: {d['reason']}" for d in details) or "invalid request"
    return JSONResponse(error_body("invalid_request", message, details), status_code=422)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _invalid([_detail_of(dict(e)) for e in exc.errors()])


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, ValueError | RecursionError):
        # FastAPI's answer to a body json.loads raised on (other than JSONDecodeError, a 422 already).
        return _invalid([{"field": "body", "reason": _unreadable_body(cause)}])
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


# ---- the served OpenAPI ----------------------------------------------------------------------------

_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
_AUTHENTICATE = {"WWW-Authenticate": {"description": "`Bearer`.", "schema": {"type": "string"}}}
_DESCRIPTIONS = {
    "401": "No API key, or one that is unknown, malformed or revoked.",
    "403": "The key's role does not allow this, or the body names another account.",
    "404": "No such request (a request of another account is not found either).",
    "409": "The request's state does not allow this, or the Idempotency-Key was used for another body.",
    "413": "The body is larger than the API accepts.",
    "422": "The request breaks a rule: `details` names each refused field and why.",
    "429": "Too many requests for this API key.",
    "503": "PostgreSQL or Temporal cannot be reached; try again later.",
}
_HEADERS = {"401": _AUTHENTICATE, "429": _RETRY_AFTER, "503": _RETRY_AFTER}


def _error_statuses(method: str, operation: dict[str, Any]) -> set[str]:
    """The error statuses this API's handlers and security answer for an operation of this kind."""
    statuses = {"422"} if "422" in operation.get("responses", {}) else set()
    in_path = any(p.get("in") == "path" for p in operation.get("parameters", []))
    keyed = any(p.get("name", "").lower() == "idempotency-key" for p in operation.get("parameters", []))
    if operation.get("security"):  # every route under /api: the key, its role, its rate, the servers
        statuses |= {"401", "429", "503"} | ({"403"} if method == "post" else set())
    if in_path:
        statuses.add("404")
    if method == "post" and (in_path or keyed):  # operator actions and statuses; Idempotency-Key
        statuses.add("409")
    if "requestBody" in operation:
        statuses |= {"413", "422"}
    return statuses


def document_error_responses(spec: dict[str, Any]) -> dict[str, Any]:
    """Make `spec` document the API's own error body; safe to apply twice."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    own = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(own.pop("$defs", {}))
    schemas["ErrorResponse"] = own
    for methods in spec.get("paths", {}).values():
        for method, operation in methods.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(_error_statuses(method, operation)):
                response = {
                    "description": _DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": _REF}},
                }
                if status in _HEADERS:
                    response["headers"] = _HEADERS[status]
                responses[status] = response
    # FastAPI's own 422 bodies, referenced by nothing now.
    if "HTTPValidationError" not in json.dumps(spec.get("paths", {})):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return spec


def _documenting_errors(app: FastAPI) -> Callable[[], dict[str, Any]]:
    build = app.openapi  # FastAPI's, which caches its result in app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_error_responses(build())
        return app.openapi_schema

    return openapi


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(domain.DnsorchError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.openapi = _documenting_errors(app)  # type: ignore[method-assign]
