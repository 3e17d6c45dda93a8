"""Dead letters: the original bytes and key, plus headers saying where they came from and why."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

HEADER_TOPIC = "dnsorch.original.topic"
HEADER_PARTITION = "dnsorch.original.partition"
HEADER_OFFSET = "dnsorch.original.offset"
HEADER_REASON = "dnsorch.reason"
MAX_REASON_BYTES = 1024


def dead_letter_headers(message: ConsumerRecord, reason: str) -> list[tuple[str, bytes]]:
    """The producer's own headers come first and are kept as they were."""
    ours = [
        (HEADER_TOPIC, message.topic.encode()),
        (HEADER_PARTITION, str(message.partition).encode()),
        (HEADER_OFFSET, str(message.offset).encode()),
        (HEADER_REASON, reason.encode("utf-8", errors="replace")[:MAX_REASON_BYTES]),
    ]
    return [*list(message.headers or ()), *ours]


async def send_to_dead_letters(
    producer: AIOKafkaProducer, topic: str, message: ConsumerRecord, reason: str
) -> None:
    """Wait for the broker's acknowledgement: the offset is committed only after this returns."""
    await producer.send_and_wait(
        topic, value=message.value, key=message.key, headers=dead_letter_headers(message, reason)
    )
