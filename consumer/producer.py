"""Producers for dead letters and events: idempotent where the broker supports it."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from dnsorch.kafka_client import client_options
from dnsorch.settings import Settings

log = logging.getLogger(__name__)


async def start_producer(settings: Settings) -> tuple[AIOKafkaProducer, bool]:
    """Start a producer with `acks=all`; the bool says whether it is idempotent.

    Apache Kafka supports the idempotent producer (no duplicates or reordering from the producer's
    own retries). Tansu refuses InitProducerId, so with `auto` we fall back to a plain producer.
    """
    mode = settings.kafka_idempotent_producer
    if mode != "false":
        producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
        try:
            await producer.start()
            return producer, True
        except KafkaError as error:
            await producer.stop()
            if mode == "true":
                raise
            log.info("the broker refused the idempotent producer (%r); using acks=all without it", error)
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    return producer, False
