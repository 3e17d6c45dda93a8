"""The idempotent-producer probe answers in one INFO line and never shows aiokafka's ERROR as a failure."""

from __future__ import annotations

import logging

import pytest
from aiokafka.errors import UnknownError

from consumer.producer import SENDER_LOGGER, start_producer
from devstack.kafka import TansuBroker
from dnsorch.settings import Settings
from tests.fixtures.kafka import KafkaBroker

pytestmark = pytest.mark.integration


async def test_probing_tansu_logs_one_info_line_and_no_error(
    tansu_broker: TansuBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    producer, idempotent = await start_producer(Settings(kafka_bootstrap_servers=tansu_broker.bootstrap))
    await producer.stop()
    assert idempotent is False
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    [decision] = [r for r in caplog.records if r.name == "consumer.producer"]
    assert decision.levelno == logging.INFO
    assert "idempotence off" in decision.getMessage() and "InitProducerId" in decision.getMessage()
    assert not logging.getLogger(SENDER_LOGGER).filters  # the quiet lasts only for the probe


async def test_the_probe_says_which_producer_each_broker_gets(
    kafka_broker: KafkaBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    producer, idempotent = await start_producer(Settings(kafka_bootstrap_servers=kafka_broker.bootstrap))
    await producer.stop()
    assert idempotent is (kafka_broker.kind == "apache")
    [decision] = [r.getMessage() for r in caplog.records if r.name == "consumer.producer"]
    assert decision.startswith(
        "Kafka producer: idempotent" if idempotent else "Kafka producer: idempotence off"
    )
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_idempotence_demanded_of_tansu_still_fails_loudly(
    tansu_broker: TansuBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """KAFKA_IDEMPOTENT_PRODUCER=true is a demand, not a probe: aiokafka's ERROR stays."""
    settings = Settings(kafka_bootstrap_servers=tansu_broker.bootstrap, kafka_idempotent_producer="true")
    with pytest.raises(UnknownError):
        await start_producer(settings)
    assert any(r.name == SENDER_LOGGER and r.levelno == logging.ERROR for r in caplog.records)
