"""Process telemetry: the worker's Temporal runtime (Prometheus, core logs) and OpenTelemetry tracing.

Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set, and then costs nothing: the OpenTelemetry
SDK, its exporter and Temporal's tracing interceptor are imported only when it is on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from temporalio.client import Interceptor
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from dnsorch.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

# Our metrics recorded through the Temporal SDK's meter (activities/metrics.py), so they share the
# worker's endpoint. The counter is exported with `_total` appended, like the SDK's own counters.
PLAYBOOK_DURATION = "dnsorch_playbook_duration_seconds"
PLAYBOOK_ATTEMPTS = "dnsorch_playbook_attempts"
BATCH_FLUSHES = "dnsorch_batch_flushes"
BATCH_CHANGES = "dnsorch_batch_changes"
BATCH_REFUSED = "dnsorch_batch_refused_changes"
PROPAGATION = "dnsorch_propagation_seconds"
# Secondaries follow a NOTIFY within a second on a LAN; PROPAGATION timeout defaults to 60 s.
PROPAGATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# One playbook run costs ~1.5 s of start-up; ANSIBLE_TIMEOUT_SECONDS defaults to 300.
PLAYBOOK_BUCKETS = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

_tracing_configured = False


def tracing_enabled(settings: Settings) -> bool:
    return bool(settings.otel_exporter_otlp_endpoint)


def configure_tracing(settings: Settings, role: str) -> bool:
    """Install a global TracerProvider that exports OTLP over HTTP, once per process.

    Returns whether tracing is on. A provider installed before us (by `opentelemetry-instrument`,
    or by a test with an in-memory exporter) is kept rather than replaced.
    """
    global _tracing_configured
    if not tracing_enabled(settings):
        return False
    if _tracing_configured:
        return True
    _tracing_configured = True
    from opentelemetry import trace

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        log.info("tracing on, with the tracer provider already installed in this process")
        return True
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint = otlp_traces_url(settings.otel_exporter_otlp_endpoint or "")
    service = settings.otel_service_name or f"dnsorch-{role}"
    provider = TracerProvider(resource=Resource.create({"service.name": service, "dnsorch.role": role}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)  # flushed by the provider's own atexit hook
    log.info("tracing on: spans of %s go to %s", service, endpoint)
    return True


def otlp_traces_url(endpoint: str) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT is a base URL; the HTTP exporter wants the traces path."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def temporal_interceptors(settings: Settings) -> list[Interceptor]:
    """Temporal's tracing interceptor when tracing is on: on a client it also covers that client's
    workers, so a workflow start carries the caller's trace into the workflow and its activities."""
    if not tracing_enabled(settings):
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def instrument_fastapi(app: FastAPI, settings: Settings) -> None:
    """One server span per HTTP request (the parent of the workflow start), when tracing is on."""
    if not tracing_enabled(settings):
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/healthz$,/readyz$,/metrics$", exclude_spans=["receive", "send"]
    )


def metrics_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def worker_runtime(settings: Settings) -> Runtime:
    """The worker's Temporal runtime: core logs through our logging, metrics on WORKER_METRICS_PORT.

    Metric names follow Prometheus conventions (seconds, `_total` on counters). An endpoint that
    cannot bind (port taken, e.g. by a second worker on the machine) is logged, not fatal.
    """
    logging_config = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    if settings.worker_metrics_port:
        address = metrics_address(settings.metrics_host, settings.worker_metrics_port)
        prometheus = PrometheusConfig(
            bind_address=address,
            counters_total_suffix=True,
            unit_suffix=True,
            durations_as_seconds=True,
            histogram_bucket_overrides={
                PLAYBOOK_DURATION: PLAYBOOK_BUCKETS,
                PROPAGATION: PROPAGATION_BUCKETS,
            },
        )
        try:
            runtime = Runtime(telemetry=TelemetryConfig(logging=logging_config, metrics=prometheus))
        except ValueError as error:
            log.warning("worker metrics endpoint %s not started: %s", address, error)
        else:
            log.info("worker metrics on http://%s/metrics", address)
            return runtime
    return Runtime(telemetry=TelemetryConfig(logging=logging_config))
