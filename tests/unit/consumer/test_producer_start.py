"""The consumer's producer keeps idempotence when the broker is only slow to answer at start."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from consumer import producer as producer_module
from dnsorch.settings import Settings


class FlakyThenFine:
    """An AIOKafkaProducer whose first start meets a broker not answering yet."""

    starts = 0

    def __init__(self, **options: Any) -> None:
        self.idempotent = bool(options.get("enable_idempotence"))

    async def start(self) -> None:
        FlakyThenFine.starts += 1
        if FlakyThenFine.starts == 1:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9092)]")

    async def stop(self) -> None:
        pass


async def test_a_connection_error_at_start_is_retried_not_taken_for_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Seen by the soak on Apache Kafka: one transient error turned idempotence off for the
    process's life, and a producer retry without it can write a dead letter twice."""
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", FlakyThenFine)
    monkeypatch.setattr("asyncio.sleep", _no_wait)
    FlakyThenFine.starts = 0
    made, idempotent = await producer_module.start_producer(Settings(kafka_idempotent_producer="auto"))
    assert idempotent and made.idempotent and FlakyThenFine.starts == 2


async def _no_wait(_seconds: float) -> None:
    return None
