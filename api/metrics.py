"""The API's Prometheus metrics at `/metrics`: HTTP traffic by route template, accept latency,
accepted requests by source and record type, and the request table's figures read at scrape time.

Counting happens in an ASGI middleware, so routes and the service stay free of metrics code.
Labels are bounded: the route *template* (never the raw path), and for accepted requests their
source (`api`: the door, never the body's `context.source`) and the body's `resource.record_type`,
or `other` beyond what is expected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dnsorch.dns import SUPPORTED_TYPES

log = logging.getLogger(__name__)

# The create routes, by route template: v1's original contract and v2's.
ACCEPT_ROUTES = frozenset({("POST", "/api/v1/dns/create"), ("POST", "/api/v2/dns/requests")})
ACCEPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_BODY_KEPT = 64 * 1024  # create bodies are a few hundred bytes; larger ones are not inspected
DB_TIMEOUT_SECONDS = 2.0
SOURCE = "api"  # what the create routes name themselves when they accept (api/v1, api/v2)

_REQUESTS_BY_STATUS = text("SELECT status, source, count(*) FROM dns_requests GROUP BY 1, 2")
_DEAD_LETTERS = text("SELECT count(*) FROM dead_letters")
_UNPUBLISHED = text("SELECT count(*) FROM request_events WHERE published_at IS NULL")
_QUEUED_STARTS = text(
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(queued_at)), 0) FROM workflow_starts"
)


class Figures(NamedTuple):
    by_status: list[Any]
    dead_letters: int
    unpublished: int
    queued_starts: int
    oldest_start_seconds: float


class ApiMetrics:
    """The API's instruments, in a registry of its own (one per app, so tests can make many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.http_requests = Counter(
            "dnsorch_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.accept_latency = Histogram(
            "dnsorch_accept_latency_seconds",
            "Time to answer a create request: validation, workflow start, row insert.",
            ["route", "status"],
            buckets=ACCEPT_BUCKETS,
            registry=self.registry,
        )
        self.accepted = Counter(
            "dnsorch_requests_accepted",
            "Create requests answered 2xx, by source and record type (a repeated request counts again).",
            ["source", "record_type"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float, body: bytes | None) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        if (method, route) not in ACCEPT_ROUTES:
            return
        self.accept_latency.labels(route, str(status)).observe(seconds)
        if 200 <= status < 300:
            self.accepted.labels(*self._accepted_labels(body)).inc()

    def _accepted_labels(self, body: bytes | None) -> tuple[str, str]:
        """(source, record_type): the API's requests are all `api` (dnsorch/requests/accepting.py), whatever
        their body's `context.source` says; the record type from a body the route already
        validated, `unknown` if unreadable."""
        try:
            resource = json.loads(body or b"").get("resource") or {}
            record_type = str(resource.get("record_type") or "").strip().upper()
        except (ValueError, AttributeError):
            return SOURCE, "unknown"
        return SOURCE, record_type if record_type in SUPPORTED_TYPES else "other"


class MetricsMiddleware:
    """Times and counts every HTTP request; keeps POST bodies (as the app reads them) for labels."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering
        body: bytearray | None = bytearray() if scope["method"] == "POST" else None

        async def receive_keeping_body() -> Message:
            nonlocal body
            message = await receive()
            if body is not None and message["type"] == "http.request":
                body += message.get("body", b"")
                if len(body) > MAX_BODY_KEPT:
                    body = None
            return message

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive_keeping_body, send_noting_status)
        finally:
            self.metrics.observe(
                scope["method"],
                route_template(scope),
                status,
                time.perf_counter() - started,
                bytes(body or b""),
            )


def route_template(scope: Scope) -> str:
    """The matched route's full template (`/api/v1/dns/{request_id}`), or `unmatched`.

    Routing leaves the route in the scope, but with FastAPI's nested routers its template lacks
    the include prefix: that prefix is what precedes the route's own part in the request path.
    """
    path_format = getattr(scope.get("route"), "path_format", None)
    if not isinstance(path_format, str):
        return "unmatched"
    params = {name: str(value) for name, value in (scope.get("path_params") or {}).items()}
    try:
        own_part = path_format.format_map(params)
    except (KeyError, ValueError, IndexError):
        return path_format
    path = scope.get("path", "")
    return path[: -len(own_part)] + path_format if own_part and path.endswith(own_part) else path_format


class DatabaseCollector(Collector):
    """Figures read from PostgreSQL, at most once per `max_age` seconds however often `/metrics` is
    scraped (it needs no key: nobody may load the database through it); exports nothing (no
    error) while PostgreSQL is down."""

    def __init__(
        self,
        engine: Callable[[], Engine | None],
        timeout: float = DB_TIMEOUT_SECONDS,
        max_age: float = 5.0,
    ) -> None:
        self._engine = engine
        self._timeout = timeout
        self._max_age = max_age
        self._cached: tuple[float, Figures] | None = None
        self._refresh = threading.Lock()  # concurrent scrapes share one read
        # One thread: a hung query makes later scrapes skip these figures instead of piling up.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="metrics-db")

    def collect(self) -> Iterator[Metric]:
        figures = self._figures()
        if figures is None:
            return
        requests = GaugeMetricFamily(
            "dnsorch_requests", "Requests in PostgreSQL by status and source.", labels=["status", "source"]
        )
        for status, source, count in figures.by_status:
            requests.add_metric([status, source], count)
        yield requests
        yield GaugeMetricFamily(
            "dnsorch_dead_letters",
            "Kafka messages sent to the dead-letter topic (ledger).",
            figures.dead_letters,
        )
        yield GaugeMetricFamily(
            "dnsorch_events_unpublished", "Status events not yet published to Kafka.", figures.unpublished
        )
        yield GaugeMetricFamily(
            "dnsorch_workflow_starts_queued",
            "Accepted requests whose workflow has not started yet (the outbox).",
            figures.queued_starts,
        )
        yield GaugeMetricFamily(
            "dnsorch_workflow_starts_oldest_seconds",
            "Age of the oldest queued workflow start; it grows while Temporal cannot be reached.",
            figures.oldest_start_seconds,
        )

    def _figures(self) -> Figures | None:
        engine = self._engine()
        if engine is None:
            return None
        if not self._refresh.acquire(timeout=self._timeout):
            return None
        try:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self._max_age:
                return self._cached[1]
            try:
                figures = self._pool.submit(self._read, engine).result(self._timeout)
            except Exception as error:  # down, slow or not migrated: skip these figures this time
                log.debug("request figures not exported: %s", error)
                return None
            self._cached = (now, figures)
            return figures
        finally:
            self._refresh.release()

    def _read(self, engine: Engine) -> Figures:
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL statement_timeout = {int(self._timeout * 1000)}"))
            by_status = list(conn.execute(_REQUESTS_BY_STATUS).all())
            dead_letters = conn.execute(_DEAD_LETTERS).scalar_one()
            unpublished = conn.execute(_UNPUBLISHED).scalar_one()
            queued, oldest = conn.execute(_QUEUED_STARTS).one()
            return Figures(by_status, dead_letters, unpublished, queued, float(oldest))


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format; built in a thread because the database figures block."""
    registry = request.app.state.metrics.registry
    return Response(await asyncio.to_thread(generate_latest, registry), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, cache_seconds: float = 5.0) -> ApiMetrics:
    """Count every request, and serve `/metrics` (no auth, like /healthz)."""
    api_metrics = ApiMetrics()

    def engine() -> Engine | None:
        return getattr(app.state, "engine", None)

    api_metrics.registry.register(DatabaseCollector(engine, max_age=cache_seconds))
    app.state.metrics = api_metrics
    app.add_middleware(MetricsMiddleware, metrics=api_metrics)
    app.include_router(router, tags=["health"])
    return api_metrics
