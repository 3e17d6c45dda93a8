"""Producers for dead letters and events: idempotent where the broker supports it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from dnsorch.kafka_client import client_options
from dnsorch.settings import Settings

log = logging.getLogger(__name__)
# aiokafka logs a refused InitProducerId at ERROR here before `start()` raises it to us.
SENDER_LOGGER = "aiokafka.producer.sender"


class _DropInitProducerIdErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "InitProducerId" not in record.getMessage()


@contextmanager
def quiet_init_producer_id() -> Iterator[None]:
    """Silence aiokafka's own report of a refused InitProducerId while we probe for idempotence.

    The refusal is an answer, not a failure: we log the decision ourselves, once, at INFO.
    Only that one message is dropped, so anything else the sender logs meanwhile still shows.
    """
    sender_log = logging.getLogger(SENDER_LOGGER)
    quiet = _DropInitProducerIdErrors()
    sender_log.addFilter(quiet)
    try:
        yield
    finally:
        sender_log.removeFilter(quiet)


async def _start_idempotent(settings: Settings, attempts: int = 10) -> AIOKafkaProducer:
    """An idempotent producer, or the broker's refusal. A connection error is not a refusal: it is
    retried, so a broker still starting does not switch idempotence off for the process's life (a
    producer retry without it can write a dead letter twice)."""
    for attempt in range(1, attempts + 1):
        producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
        try:
            with quiet_init_producer_id():
                await producer.start()
        except KafkaConnectionError:
            await producer.stop()
            if attempt == attempts:
                raise
            await asyncio.sleep(0.5)
            continue
        except KafkaError:
            await producer.stop()
            raise
        log.info("Kafka producer: idempotent, acks=all — the broker supports it")
        return producer
    raise AssertionError("unreachable")


async def start_producer(settings: Settings) -> tuple[AIOKafkaProducer, bool]:
    """Start a producer with `acks=all`; the bool says whether it is idempotent.

    Apache Kafka supports the idempotent producer (no duplicates or reordering from the producer's
    own retries). Tansu refuses InitProducerId, so with `auto` we fall back to a plain producer.
    """
    mode = settings.kafka_idempotent_producer
    if mode == "true":
        producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
        try:
            await producer.start()  # a refusal raises, and aiokafka's ERROR line stays: it is one here
        except KafkaError:
            await producer.stop()
            raise
        log.info("Kafka producer: idempotent, acks=all (KAFKA_IDEMPOTENT_PRODUCER=true)")
        return producer, True
    if mode == "auto":
        try:
            return await _start_idempotent(settings), True
        except KafkaConnectionError:
            raise  # the broker is away, not refusing: no reason to give up idempotence
        except KafkaError as error:
            log.info(
                "Kafka producer: idempotence off, acks=all — the broker refused InitProducerId (%s), "
                "as Tansu does; expected there, nothing to fix",
                type(error).__name__,
            )
    else:
        log.info("Kafka producer: idempotence off, acks=all (KAFKA_IDEMPOTENT_PRODUCER=false)")
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    return producer, False
