"""Dead letters: the original bytes and key, plus headers saying where they came from and why."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

HEADER_TOPIC = "dnsorch.original.topic"
HEADER_PARTITION = "dnsorch.original.partition"
HEADER_OFFSET = "dnsorch.original.offset"
HEADER_REASON = "dnsorch.reason"
MAX_REASON_BYTES = 1024


def clean_reason(reason: str) -> str:
    """A reason fit for a header and the ledger's text column: valid UTF-8, no NUL, bounded.

    Reasons quote field names from the message, which may hold anything JSON can escape.
    """
    safe = reason.encode("utf-8", errors="backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return safe.encode()[:MAX_REASON_BYTES].decode("utf-8", errors="ignore")


def dead_letter_headers(message: ConsumerRecord, reason: str) -> list[tuple[str, bytes]]:
    """The producer's own headers come first and are kept as they were."""
    ours = [
        (HEADER_TOPIC, message.topic.encode()),
        (HEADER_PARTITION, str(message.partition).encode()),
        (HEADER_OFFSET, str(message.offset).encode()),
        (HEADER_REASON, clean_reason(reason).encode()),
    ]
    return [*list(message.headers or ()), *ours]


async def send_to_dead_letters(
    producer: AIOKafkaProducer, topic: str, message: ConsumerRecord, reason: str
) -> None:
    """Wait for the broker's acknowledgement: the offset is committed only after this returns."""
    await producer.send_and_wait(
        topic, value=message.value, key=message.key, headers=dead_letter_headers(message, reason)
    )
