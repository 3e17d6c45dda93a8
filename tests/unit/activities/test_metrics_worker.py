"""The worker's metrics plumbing: outcome labels of the Ansible step, and a metrics port that is
taken (a second worker on the machine) or turned off, which must never stop the worker."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError
from temporalio.runtime import Runtime

from activities.metrics import attempt_outcome, playbook_outcome
from activities.playbook_runs import failure_error
from dnsorch import telemetry
from dnsorch.settings import Settings


@pytest.mark.parametrize(
    ("status", "permanent", "outcome"),
    [
        ("successful", False, "success"),
        ("failed", False, "failed"),
        ("failed", True, "rejected"),
        ("timeout", False, "timeout"),
        ("canceled", False, "cancelled"),
    ],
)
def test_playbook_outcome_labels(status: str, permanent: bool, outcome: str) -> None:
    assert playbook_outcome(status, permanent) == outcome


def test_attempt_outcomes_follow_the_errors_the_ansible_step_raises() -> None:
    assert attempt_outcome(None) == "success"
    assert attempt_outcome(failure_error("Connection refused")) == "failed"
    assert attempt_outcome(failure_error("update failed: REFUSED")) == "rejected"
    assert attempt_outcome(ApplicationError("x", type="DnsChangeNotServed")) == "not_served"
    assert attempt_outcome(asyncio.CancelledError()) == "cancelled"
    assert attempt_outcome(ValueError("bug")) == "error"


def test_a_taken_worker_metrics_port_is_logged_and_the_worker_still_gets_a_runtime(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="dnsorch.telemetry"):
            runtime = telemetry.worker_runtime(Settings(worker_metrics_port=port))
    assert isinstance(runtime, Runtime)
    assert runtime.metric_meter is MetricMeter.noop
    assert f"worker metrics endpoint 127.0.0.1:{port} not started" in caplog.text


def test_port_zero_turns_the_worker_metrics_off() -> None:
    assert telemetry.worker_runtime(Settings(worker_metrics_port=0)).metric_meter is MetricMeter.noop


def test_metrics_addresses_accept_ipv6_hosts() -> None:
    assert telemetry.metrics_address("0.0.0.0", 9464) == "0.0.0.0:9464"
    assert telemetry.metrics_address("::", 9464) == "[::]:9464"


def test_otlp_endpoint_is_a_base_url_as_the_standard_variable_says() -> None:
    assert telemetry.otlp_traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert telemetry.otlp_traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert telemetry.otlp_traces_url("http://collector:4318/v1/traces") == "http://collector:4318/v1/traces"
