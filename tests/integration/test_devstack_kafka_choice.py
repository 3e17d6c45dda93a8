"""`dnsorch dev` says in one INFO line which broker runs and why, and falls back to Tansu when it must."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from devstack import stack as stack_module
from devstack.broker_choice import BrokerChoice
from devstack.stack import DevStack
from dnsorch.settings import Settings
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.integration


def kafka_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Kafka: ")]


def dev_stack(tmp_path: Path, **settings: Any) -> DevStack:
    return DevStack(
        Settings(state_dir=tmp_path, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}", **settings)
    )


def test_an_explicit_tansu_is_named_with_its_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    stack = dev_stack(tmp_path, dev_kafka="tansu")
    try:
        stack._start_kafka()
    finally:
        stack.stop()
    [line] = kafka_lines(caplog)
    assert line.startswith("Kafka: Tansu (embedded, in memory") and "chosen because DEV_KAFKA=tansu" in line


def test_an_automatic_apache_kafka_that_cannot_start_falls_back_to_tansu(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    auto_apache = BrokerChoice("apache", "a JDK 17+ is present", automatic=True)
    monkeypatch.setattr(stack_module, "choose_broker", lambda *_args: auto_apache)
    real_start_broker = stack_module.start_broker

    def start_broker(kind: str, *args: Any) -> Any:
        if kind == "apache":
            raise RuntimeError("mvn could not fetch the Kafka jars:\n(offline)")
        return real_start_broker(kind, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(stack_module, "start_broker", start_broker)
    stack = dev_stack(tmp_path)
    try:
        stack._start_kafka()
        assert stack.kafka is not None and stack.kafka.kind == "tansu"
    finally:
        stack.stop()
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "mvn could not fetch the Kafka jars; its log" in warning and "starting Tansu instead" in warning
    [line] = kafka_lines(caplog)
    assert "chosen because Apache Kafka did not start (mvn could not fetch the Kafka jars)" in line


def test_an_explicit_apache_kafka_that_cannot_start_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def start_broker(kind: str, *args: Any) -> Any:
        raise RuntimeError(f"{kind} refused")

    monkeypatch.setattr(stack_module, "start_broker", start_broker)
    with pytest.raises(RuntimeError, match="apache refused"):
        dev_stack(tmp_path, dev_kafka="apache")._start_kafka()
