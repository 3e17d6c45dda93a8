"""The ledger of Kafka messages sent to the dead-letter topic, so a redelivery is not sent twice.

A row stands for the message at its topic, partition and offset. After a broker or topic reset the
offsets start again, so a row dead-lettered before the message at its position was even produced
belongs to an earlier message there: that one is not a redelivery, and its row gives way to it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from dnsorch.store.models import DeadLetter


def dead_letter_sent(
    conn: Connection, topic: str, partition: int, offset: int, produced_at: datetime | None = None
) -> bool:
    """Whether this message was dead-lettered already. `produced_at`: the record's timestamp (None:
    it has none, and the position alone decides). Clocks that disagree err towards a second dead
    letter, which its original-offset header identifies, never towards a lost one."""
    sent_at = conn.execute(
        select(col(DeadLetter.dead_lettered_at))
        .where(col(DeadLetter.topic) == topic, col(DeadLetter.partition) == partition)
        .where(col(DeadLetter.offset) == offset)
    ).scalar_one_or_none()
    return sent_at is not None and (produced_at is None or sent_at >= produced_at)


def record_dead_letter(
    conn: Connection, topic: str, partition: int, offset: int, key: str | None, reason: str
) -> None:
    """Record the message at its position, replacing an earlier message's row there (before a reset)."""
    conn.execute(
        insert(DeadLetter)
        .values(topic=topic, partition=partition, offset=offset, message_key=key, reason=reason)
        .on_conflict_do_update(
            index_elements=["topic", "partition", "offset"],
            set_={"message_key": key, "reason": reason, "dead_lettered_at": func.now()},
        )
    )
