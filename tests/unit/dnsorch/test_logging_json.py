"""The log lines: JSON fields (role, request id, workflow id, activity, attempt, trace ids) for
machines, the plain line for people, and secrets masked in both."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from temporalio import activity, workflow
from temporalio.testing import ActivityEnvironment

from dnsorch.logging import JsonFormatter, bind_request_id, configure_logging

REQUEST_ID = "5b0d0a43-5c63-4b8e-9d44-6e7e1b3a6d0a"


@pytest.fixture
def json_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """configure_logging(json_lines=True) as `dnsorch worker` does, writing to a buffer; restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    flags = activity.logger.activity_info_on_message, workflow.logger.workflow_info_on_message
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging("INFO", json_lines=True, role="worker")
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved
        activity.logger.activity_info_on_message, workflow.logger.workflow_info_on_message = flags
        logging.captureWarnings(False)


def events(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_plain_event_has_the_base_fields_and_a_null_request_id(json_lines: io.StringIO) -> None:
    logging.getLogger("dnsorch.test").warning("worker polling %s", "dns-provisioning")

    (event,) = events(json_lines)
    assert event["level"] == "WARNING"
    assert event["role"] == "worker"
    assert event["logger"] == "dnsorch.test"
    assert event["message"] == "worker polling dns-provisioning"
    assert event["request_id"] is None
    assert event["ts"][:2] == "20" and "T" in event["ts"]
    assert not {"workflow_id", "activity", "attempt", "trace_id"} & set(event)


async def test_a_bound_request_id_is_on_every_line_of_its_task(json_lines: io.StringIO) -> None:
    async def handle() -> None:
        bind_request_id(REQUEST_ID)
        logging.getLogger("dnsorch.requests.accepting").info("accepted")

    await asyncio.create_task(handle())  # a task of its own, like an HTTP request
    logging.getLogger("dnsorch.requests.accepting").info("outside")

    inside, outside = events(json_lines)
    assert inside["request_id"] == REQUEST_ID
    assert outside["request_id"] is None


async def test_an_activity_event_carries_workflow_activity_and_attempt(json_lines: io.StringIO) -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        workflow_id=f"dns-request-{REQUEST_ID}",
        workflow_run_id="run-1",
        workflow_type="DnsProvisioningWorkflow",
        activity_type="apply_dns_change",
        attempt=3,
    )

    @activity.defn(name="apply_dns_change")
    async def apply() -> None:
        activity.logger.info("playbook failed in %.1fs", 1.5)

    await env.run(apply)

    (event,) = events(json_lines)
    assert event["message"] == "playbook failed in 1.5s"  # the context is in fields, not the message
    assert event["request_id"] == REQUEST_ID  # from the workflow id
    assert event["workflow_id"] == f"dns-request-{REQUEST_ID}"
    assert event["run_id"] == "run-1"
    assert event["workflow_type"] == "DnsProvisioningWorkflow"
    assert event["activity"] == "apply_dns_change"
    assert event["attempt"] == 3


def test_a_workflow_event_carries_the_workflow_but_no_activity() -> None:
    record = logging.getLogger("temporalio.workflow").makeRecord(
        "temporalio.workflow",
        logging.INFO,
        __file__,
        1,
        "provisioning started",
        (),
        None,
        extra={
            "temporal_workflow": {
                "workflow_id": f"dns-request-{REQUEST_ID}",
                "run_id": "run-9",
                "workflow_type": "DnsProvisioningWorkflow",
                "attempt": 1,
            }
        },
    )
    event = json.loads(JsonFormatter(role="worker").format(record))
    assert event["request_id"] == REQUEST_ID
    assert event["workflow_id"] == f"dns-request-{REQUEST_ID}"
    assert event["run_id"] == "run-9"
    assert "activity" not in event and "attempt" not in event


def test_an_event_inside_a_span_carries_its_trace_and_span_ids(json_lines: io.StringIO) -> None:
    context = SpanContext(
        trace_id=0x848D6491BD0E8211861FC5C6D8A24043,
        span_id=0xF1B4FAE965FD971E,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    with trace.use_span(NonRecordingSpan(context)):
        logging.getLogger("api").info("in a request")

    (event,) = events(json_lines)
    assert event["trace_id"] == "848d6491bd0e8211861fc5c6d8a24043"
    assert event["span_id"] == "f1b4fae965fd971e"


def test_python_warnings_become_json_events_too(json_lines: io.StringIO) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("XDG_RUNTIME_DIR is not set", RuntimeWarning, stacklevel=1)

    (event,) = events(json_lines)
    assert event["logger"] == "py.warnings"
    assert event["level"] == "WARNING"
    assert "RuntimeWarning: XDG_RUNTIME_DIR is not set" in event["message"]


def test_secrets_are_masked_in_messages_and_tracebacks(json_lines: io.StringIO) -> None:
    log = logging.getLogger("dnsorch.test")
    log.error('key file says: key "k" { algorithm hmac-sha256; secret "c2VjcmV0LWtleQ=="; };')
    try:
        raise RuntimeError("cannot connect to postgresql+psycopg2://dnsorch:hunter2@db:5432/dnsorch")
    except RuntimeError:
        log.exception("database down (password=hunter2)")

    text = json_lines.getvalue()
    assert "c2VjcmV0LWtleQ==" not in text
    assert "hunter2" not in text
    first, second = events(json_lines)
    assert 'secret "***"' in first["message"]
    assert "postgresql+psycopg2://dnsorch:***@db:5432/dnsorch" in second["exc"]
    assert second["message"] == "database down (password=***)"


def test_plain_lines_stay_the_default_and_are_masked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging("INFO", role="api")
    try:
        bind_request_id(REQUEST_ID)
        logging.getLogger("dnsorch.requests.accepting").info("connecting to http://user:pw123@host/")
    finally:
        root.handlers[:], root.level = saved
        bind_request_id("-")
    line = buffer.getvalue().strip()
    assert not line.startswith("{")
    assert (
        f" api INFO dnsorch.requests.accepting [req {REQUEST_ID}] connecting to http://user:***@host/" in line
    )
