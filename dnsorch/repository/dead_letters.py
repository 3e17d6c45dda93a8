"""The ledger of Kafka messages sent to the dead-letter topic, so a redelivery is not sent twice."""

from __future__ import annotations

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from dnsorch.models import DeadLetter


def dead_letter_sent(conn: Connection, topic: str, partition: int, offset: int) -> bool:
    found = conn.execute(
        select(func.count())
        .select_from(DeadLetter)
        .where(col(DeadLetter.topic) == topic, col(DeadLetter.partition) == partition)
        .where(col(DeadLetter.offset) == offset)
    )
    return bool(found.scalar_one())


def record_dead_letter(
    conn: Connection, topic: str, partition: int, offset: int, key: str | None, reason: str
) -> None:
    conn.execute(
        insert(DeadLetter)
        .values(topic=topic, partition=partition, offset=offset, message_key=key, reason=reason)
        .on_conflict_do_nothing()
    )
