"""Who may call the API: bearer API keys, roles, account isolation, per-key rate and body-size limits.

Every route under /api depends on `authenticate`; /docs, /openapi.json, /healthz, /readyz and
/metrics do not. Refusals use the API's one error shape: 401 (no or bad key, with
`WWW-Authenticate: Bearer`), 403 (role too low, or a body naming another account), 404 (a request
of another account: the same answer as for an id that does not exist), 413, 429 (with Retry-After).
A key found valid in PostgreSQL is trusted for API_KEY_CACHE_SECONDS without asking again, so a
revoked key is refused within that time (in each API process).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import EngineDep, SettingsDep
from api.errors import error_body
from dnsorch.contracts import RequestNotFound, ServiceUnavailable
from dnsorch.requests import OperateService
from dnsorch.store import DnsRecord, DnsRequest, Principal, Role, keys


class AuthError(Exception):
    status = 401
    code = "unauthenticated"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = headers


class NotAuthenticated(AuthError):
    def __init__(self, message: str) -> None:
        super().__init__(message, {"WWW-Authenticate": "Bearer"})


class Forbidden(AuthError):
    status = 403
    code = "forbidden"


class RateLimited(AuthError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many requests for this API key; retry in {seconds}s", {"Retry-After": str(seconds)}
        )


class TokenBuckets:
    """A token bucket per key: `burst` requests at once, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds until a token is back."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        return 0.0


class KeyCache:
    """Principals of keys PostgreSQL found valid in the last `ttl` seconds, so a burst of requests
    costs one key lookup per key, not one per request; a revoked key is refused once its entry ages out.

    Only valid keys are kept: an unknown or revoked key is looked up every time (so a key created a
    moment ago works at once). Entries are keyed by the key's hash, never the key itself; at most
    `max_entries` are kept, the oldest dropped first. `ttl` 0 keeps nothing.
    """

    def __init__(
        self, ttl: float, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._entries: dict[str, tuple[float, Principal]] = {}

    @staticmethod
    def _slot(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def get(self, key: str) -> Principal | None:
        slot = self._slot(key)
        found = self._entries.get(slot)
        if found is None:
            return None
        checked_at, principal = found
        if self.clock() - checked_at >= self.ttl:
            del self._entries[slot]
            return None
        return principal

    def put(self, key: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[self._slot(key)] = (self.clock(), principal)


def key_cache(app: FastAPI, ttl: float) -> KeyCache:
    """The app's key cache, made on first use from the settings the app serves with."""
    cache: KeyCache | None = getattr(app.state, "key_cache", None)
    if cache is None:
        cache = app.state.key_cache = KeyCache(ttl)
    return cache


async def check_key(cache: KeyCache, engine: Engine, key: str) -> Principal | None:
    """The key's principal, from the cache or else from PostgreSQL (which then fills the cache)."""
    principal = cache.get(key)
    if principal is None:
        principal = await asyncio.to_thread(keys.authenticate, engine, key)
        if principal is not None:
            cache.put(key, principal)
    return principal


_bearer = HTTPBearer(auto_error=False, description="An API key from `dnsorch keys create`.")


async def authenticate(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise NotAuthenticated("an API key is required: Authorization: Bearer <key>")
    try:
        cache = key_cache(request.app, settings.api_key_cache_seconds)
        principal = await check_key(cache, engine, credentials.credentials)
    except OperationalError as error:
        raise ServiceUnavailable.postgresql() from error
    if principal is None:
        raise NotAuthenticated("the API key is not valid (unknown, malformed or revoked)")
    buckets: TokenBuckets = request.app.state.rate_limits
    wait = buckets.take(principal.key_id)
    if wait > 0:
        raise RateLimited(wait)
    request.state.principal = principal
    return principal


def _require(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.may(role):
            raise Forbidden(f"this needs the {role.label} role; the key is a {principal.role.label}'s")
        return principal

    return check


Caller = Annotated[Principal, Depends(authenticate)]
Operator = Annotated[Principal, Depends(_require(Role.OPERATOR))]


def check_account(caller: Principal, account_id: str) -> None:
    """A submitter may only ask for its own account."""
    if not caller.sees_account(account_id):
        raise Forbidden(f"this key acts for account {caller.account_id!r}, not {account_id!r}")


def account_scope(caller: Principal, asked: str | None) -> str | None:
    """The account filter a listing must apply: a submitter's own, whatever it asked for."""
    return asked if caller.may(Role.OPERATOR) else caller.account_id


async def visible_request(
    operate: OperateService, request_id: uuid.UUID, caller: Principal
) -> tuple[DnsRequest, DnsRecord | None]:
    """The request, or RequestNotFound when it is another account's (so ids do not leak)."""
    request, record = await operate.get(request_id)
    if not caller.sees_account(request.account_id):
        raise RequestNotFound(str(request_id))
    return request, record


class BodySizeLimit:
    """ASGI middleware: a body over `limit` bytes is refused with 413 before anything parses it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body larger than {self.limit} bytes"
        response = JSONResponse(error_body("payload_too_large", message), status_code=413)
        await response(scope, receive, send)


async def _auth_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    return JSONResponse(error_body(exc.code, str(exc)), status_code=exc.status, headers=exc.headers)


def install_security(app: FastAPI, rate_per_second: float, burst: int, max_body_bytes: int) -> None:
    app.state.rate_limits = TokenBuckets(rate_per_second, burst)
    app.add_exception_handler(AuthError, _auth_error)
    app.add_middleware(BodySizeLimit, limit=max_body_bytes)
