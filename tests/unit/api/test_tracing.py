"""Tracing: one trace from the API's request through the workflow start into the workflow and its
activity (Temporal's time-skipping server, spans kept in memory), and no OpenTelemetry SDK at all
while no endpoint is configured."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from temporalio import activity, workflow

# The workflow sandbox re-imports this module: what the workflow does not use passes through.
with workflow.unsafe.imports_passed_through():
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import httpx
    import pytest
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from api.main import create_app
    from dnsorch import telemetry
    from dnsorch.settings import PROJECT_ROOT, Settings
    from tests.fixtures.auth import act_as

OTLP = "http://127.0.0.1:4318"  # turns tracing on; never reached: the spans stay in memory


@activity.defn(name="traced_step")
async def traced_step(name: str) -> str:
    """Reports the trace it runs in, as the real activities' own spans and logs would see it."""
    return f"{trace.get_current_span().get_span_context().trace_id:032x}"


@workflow.defn(name="TracedWorkflow")
class TracedWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            traced_step, name, start_to_close_timeout=timedelta(seconds=10)
        )


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    """The process's tracer provider, as `configure_tracing` would install it, exporting to memory."""
    memory = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return memory


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter
    exporter.clear()


def by_name(finished: tuple[ReadableSpan, ...], prefix: str) -> ReadableSpan:
    found = [s for s in finished if s.name.startswith(prefix)]
    assert len(found) == 1, (prefix, [s.name for s in finished])
    return found[0]


def assert_chain(finished: tuple[ReadableSpan, ...], root: Any, trace_id_in_activity: str) -> None:
    """root → StartWorkflow → (RunWorkflow, StartActivity → RunActivity), all in root's trace.

    Temporal's interceptor parents the workflow's spans on the start's (they end at once: a
    workflow replays), and the activity's on its schedule.
    """
    start = by_name(finished, "StartWorkflow:TracedWorkflow")
    run = by_name(finished, "RunWorkflow:TracedWorkflow")
    start_activity = by_name(finished, "StartActivity:traced_step")
    run_activity = by_name(finished, "RunActivity:traced_step")
    assert {s.context.trace_id for s in (start, run, start_activity, run_activity)} == {root.trace_id}
    for child, parent_id in (
        (start, root.span_id),
        (run, start.context.span_id),
        (start_activity, start.context.span_id),
        (run_activity, start_activity.context.span_id),
    ):
        assert child.parent is not None and child.parent.span_id == parent_id, child.name
    assert trace_id_in_activity == f"{root.trace_id:032x}"  # the activity's own code runs in the trace


async def run_worker_until(
    env: WorkflowEnvironment, client: Client, task_queue: str, workflow_id: str
) -> str:
    async with Worker(client, task_queue=task_queue, workflows=[TracedWorkflow], activities=[traced_step]):
        return str(await env.client.get_workflow_handle(workflow_id).result())


async def test_a_span_in_the_api_context_is_the_parent_of_the_workflow_and_activity_spans(
    time_skipping_env: WorkflowEnvironment, spans: InMemorySpanExporter
) -> None:
    settings = Settings(otel_exporter_otlp_endpoint=OTLP)
    config = time_skipping_env.client.config()
    config["interceptors"] = [*config["interceptors"], *telemetry.temporal_interceptors(settings)]
    client = Client(**config)  # the worker's client: its interceptors also apply to its workers
    task_queue, workflow_id = f"traced-{uuid.uuid4()}", f"traced-{uuid.uuid4()}"

    with trace.get_tracer("test").start_as_current_span("POST /api/v1/dns/create") as api_span:
        await client.start_workflow(TracedWorkflow.run, "www", id=workflow_id, task_queue=task_queue)
    trace_id_in_activity = await run_worker_until(time_skipping_env, client, task_queue, workflow_id)

    assert_chain(spans.get_finished_spans(), api_span.get_span_context(), trace_id_in_activity)


async def test_the_api_app_traces_a_request_into_the_workflow_it_starts(
    time_skipping_env: WorkflowEnvironment, spans: InMemorySpanExporter
) -> None:
    """create_app with tracing on: FastAPI's server span → the API client's workflow start → worker."""
    target = time_skipping_env.client.service_client.config.target_host
    settings = Settings(
        otel_exporter_otlp_endpoint=OTLP,
        temporal_address=target,
        database_url="postgresql+psycopg2://postgres@127.0.0.1:1/x",
    )
    app = create_app(settings)
    task_queue, workflow_id = f"traced-{uuid.uuid4()}", f"traced-{uuid.uuid4()}"

    async with app.router.lifespan_context(app):
        api_client: Client = app.state.temporal  # built by the lifespan, with our interceptors

        class StartsTheWorkflow:
            async def create(self, body: Any, **_: Any) -> SimpleNamespace:
                await api_client.start_workflow(
                    TracedWorkflow.run, "www", id=workflow_id, task_queue=task_queue
                )
                request_id = str(uuid.uuid4())
                return SimpleNamespace(request_id=request_id, workflow_id=workflow_id, status="PENDING")

        app.state.accept = StartsTheWorkflow()
        act_as(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            body = {
                "context": {"account_id": "acct-42"},
                "resource": {"record_type": "A", "domain": "www.example.test", "target": "192.0.2.1"},
            }
            response = await http.post("/api/v1/dns/create", json=body)
            assert response.status_code == 200, response.text

    worker_config = time_skipping_env.client.config()
    worker_config["interceptors"] = [
        *worker_config["interceptors"],
        *telemetry.temporal_interceptors(settings),
    ]
    trace_id_in_activity = await run_worker_until(
        time_skipping_env, Client(**worker_config), task_queue, workflow_id
    )

    finished = spans.get_finished_spans()
    server = [s for s in finished if s.kind == trace.SpanKind.SERVER and s.name.startswith("POST")]
    assert len(server) == 1, [s.name for s in finished]
    assert server[0].attributes is not None
    assert server[0].attributes.get("http.route") == "/api/v1/dns/create"
    assert_chain(finished, server[0].context, trace_id_in_activity)


def test_with_no_endpoint_no_opentelemetry_sdk_is_imported_or_configured() -> None:
    """Every role's start-up path, in a fresh interpreter, with tracing off."""
    code = (
        "import sys\n"
        "from dnsorch.settings import Settings\n"
        "from dnsorch import telemetry\n"
        "from api.main import create_app\n"
        "import worker.main, consumer.main\n"
        "settings = Settings()\n"
        "create_app(settings)\n"
        "assert telemetry.configure_tracing(settings, 'worker') is False\n"
        "assert telemetry.temporal_interceptors(settings) == []\n"
        "from opentelemetry import trace\n"
        "assert type(trace.get_tracer_provider()).__name__ == 'ProxyTracerProvider'\n"
        "heavy = ('opentelemetry.sdk', 'opentelemetry.exporter', 'opentelemetry.instrumentation',\n"
        "         'temporalio.contrib.opentelemetry')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_configured_tracing_exports_spans_over_otlp_http_to_the_endpoint() -> None:
    """configure_tracing as a role calls it, in a fresh interpreter, against a local OTLP receiver."""
    received: list[tuple[str, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    code = (
        "from opentelemetry import trace\n"
        "from dnsorch import telemetry\n"
        "from dnsorch.settings import Settings\n"
        f"settings = Settings(otel_exporter_otlp_endpoint='http://127.0.0.1:{server.server_port}')\n"
        "assert telemetry.configure_tracing(settings, 'worker')\n"
        "with trace.get_tracer('check').start_as_current_span('span-from-the-worker'):\n"
        "    pass\n"
        "trace.get_tracer_provider().force_flush()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert [path for path, _ in received] == ["/v1/traces"]
    body = received[0][1]
    assert b"span-from-the-worker" in body
    assert b"dnsorch-worker" in body  # the default service name, from the role
