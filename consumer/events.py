"""Publishes the `request_events` outbox to the events topic, keyed by request id.

A status change and its outbox row commit in one transaction (dnsorch.store), so every
change is eventually published, also after a crash. Only one publisher runs at a time (a
PostgreSQL advisory lock), which keeps each request's events in sequence order. A crash between
sending and marking an event published sends it again with the same sequence number.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

log = logging.getLogger(__name__)
PUBLISHER_LOCK_KEY = 0x646E736F7263  # "dnsorc": one publisher cluster-wide
BATCH_SIZE = 500

_UNPUBLISHED = text(
    "SELECT id, request_id, sequence, status, reason, occurred_at FROM request_events "
    "WHERE published_at IS NULL ORDER BY id LIMIT :limit"
)
_MARK = text("UPDATE request_events SET published_at = now() WHERE id = ANY(:ids)")


def event_json(row: Any) -> bytes:
    return json.dumps(
        {
            "request_id": str(row.request_id),
            "sequence": row.sequence,
            "status": row.status,
            "reason": row.reason,
            "timestamp": row.occurred_at.isoformat(),
        }
    ).encode()


class EventPublisher:
    def __init__(
        self, engine: Engine, producer: AIOKafkaProducer, topic: str, poll_seconds: float = 0.5
    ) -> None:
        self.engine = engine
        self.producer = producer
        self.topic = topic
        self.poll_seconds = poll_seconds
        self.published = 0
        self._lock_conn: Connection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    sent = await self.publish_once() if await asyncio.to_thread(self._hold_lock) else 0
                except (DBAPIError, KafkaError) as error:
                    log.warning("event publishing paused: %s", error)
                    await asyncio.to_thread(self._release_lock)
                    sent = 0
                if sent < BATCH_SIZE:
                    await _sleep_or_stop(stop, self.poll_seconds)
        finally:
            await asyncio.to_thread(self._release_lock)

    async def publish_once(self) -> int:
        """Send the oldest unpublished events, wait for the broker, then mark them published."""
        rows = await asyncio.to_thread(self._fetch)
        if not rows:
            return 0
        futures = [
            await self.producer.send(self.topic, key=str(row.request_id).encode(), value=event_json(row))
            for row in rows
        ]
        await asyncio.gather(*futures)
        await asyncio.to_thread(self._mark, [row.id for row in rows])
        self.published += len(rows)
        return len(rows)

    def _fetch(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(_UNPUBLISHED, {"limit": BATCH_SIZE}).all())

    def _mark(self, ids: list[int]) -> None:
        with self.engine.begin() as conn:
            conn.execute(_MARK, {"ids": ids})

    def _hold_lock(self) -> bool:
        """True while this process is the publisher; the lock dies with its connection.

        A session-level lock on an autocommit connection: the session keeps the lock, and no
        statement leaves a transaction open. (The liveness check used to begin one that stayed
        "idle in transaction" for the publisher's life, pinning the xmin horizon for VACUUM.)
        """
        if self._lock_conn is not None:
            self._lock_conn.execute(text("SELECT 1"))  # raises if PostgreSQL dropped the session
            return True
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": PUBLISHER_LOCK_KEY}
        ).scalar_one()
        if not got:
            conn.close()
            return False
        self._lock_conn = conn
        log.info("this process now publishes status events to %s", self.topic)
        return True

    def _release_lock(self) -> None:
        if self._lock_conn is None:
            return
        try:
            # Unlock first: the session ends only some time after its socket closes, and until then
            # it keeps the lock from the next publisher (a test saw it still held after stop).
            self._lock_conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PUBLISHER_LOCK_KEY})
        except SQLAlchemyError:  # the session is gone already (PostgreSQL down), and its lock with it
            pass
        try:
            # Invalidate, not just close: a pooled connection would keep the session and its lock.
            self._lock_conn.invalidate()
            self._lock_conn.close()
        except DBAPIError:
            pass
        self._lock_conn = None


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
