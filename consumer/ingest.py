"""The ingest loop: decode → accept → commit, with dead letters for poison and patience for outages.

Guarantees (see docs/kafka.md):
- a partition's messages are accepted one after the other in offset order (keyed messages for one
  name share a partition); partitions run side by side, one lane each (consumer/lanes.py);
- an offset is committed only after every message before it is accepted (workflow started and
  row written) or dead-lettered (acknowledged by the broker);
- a redelivered message maps to the same request id, so it starts nothing new; a new message at an
  offset used before a broker or topic reset is a new request (decode.derived_request_id);
- while PostgreSQL or Temporal is down each partition's lane retries its message with backoff and
  its partition stays paused; nothing after it is committed, so nothing is skipped;
- a revoked partition's lane stops after its message in hand and commits before the partition
  moves, so its next owner accepts nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import psycopg2
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord
from sqlalchemy.exc import DataError, OperationalError

from consumer.dead_letter import clean_reason, send_to_dead_letters
from consumer.decode import DecodedRequest, PoisonMessage, decode_key, decode_request
from consumer.lanes import Lanes
from dnsorch.contracts import (
    IdempotencyConflict,
    InvalidRequest,
    NameOwnedByAnotherAccount,
    RecordConflict,
    ServiceUnavailable,
)
from dnsorch.logging import bind_request_id
from dnsorch.requests import AcceptService, request_hash
from dnsorch.settings import Settings
from dnsorch.store import dead_letters, request_rows

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 15.0
COMMITTED_TIMEOUT_SECONDS = 2.0
FETCH_WAIT_MS = 500
MAX_RECORDS = 200
COMMIT_EVERY_SECONDS = 1.0
CLOCK_SKEW = timedelta(minutes=5)
"""How far a producer's clock may run ahead of PostgreSQL's when telling a redelivery of a message
accepted under its position's id from a newer message at that position (see `_request_id`)."""


@dataclass
class IngestStats:
    """The figures Kafka operators watch; logged every KAFKA_STATS_LOG_SECONDS."""

    consumed: int = 0
    accepted: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    retries: int = 0
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    last_logged: float = field(default_factory=time.monotonic)
    lag_by_partition: dict[tuple[str, int], int] = field(default_factory=dict)
    """The latest lag per (topic, partition), replaced whole by the ingest loop for the metrics thread."""

    def partition_lags(self, consumer: AIOKafkaConsumer) -> dict[tuple[str, int], int]:
        """Per partition: high watermark minus our committed offset (Tansu's end_offsets is wrong)."""
        lags = {}
        for tp in sorted(consumer.assignment()):
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lags[(tp.topic, tp.partition)] = max(0, highwater - self.committed.get(tp, 0))
        return lags

    def lag(self, consumer: AIOKafkaConsumer) -> dict[str, int]:
        lags = self.partition_lags(consumer)
        return {f"{topic}[{partition}]": lag for (topic, partition), lag in lags.items()}

    def maybe_log(self, consumer: AIOKafkaConsumer, every: float) -> None:
        if time.monotonic() - self.last_logged < every:
            return
        self.last_logged = time.monotonic()
        log.info(
            "kafka figures: consumed=%d accepted=%d dead_lettered=%d duplicates=%d retries=%d lag=%s",
            self.consumed,
            self.accepted,
            self.dead_lettered,
            self.duplicates,
            self.retries,
            self.lag(consumer),
        )


def may_act_for(allowed: list[str], account: str) -> bool:
    """Whether a message on the requests topic may act for `account` (KAFKA_REQUESTS_ACCOUNTS)."""
    return "*" in allowed or account in allowed


class Ingestor:
    def __init__(
        self,
        settings: Settings,
        accept: AcceptService,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
    ) -> None:
        self.settings = settings
        self.accept = accept
        self.consumer = consumer
        self.producer = producer
        self.stats = IngestStats()
        self.lanes = Lanes(consumer, self._process)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch, and give each partition's batch its lane; on stop, let every lane finish its
        message in hand and commit, then return."""
        try:
            while not stop.is_set():
                self.lanes.raise_failure()
                batches = await self.consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=MAX_RECORDS)
                for tp, messages in batches.items():
                    self.lanes.start(tp, messages)
                await self._refresh_lag()
                self.stats.maybe_log(self.consumer, self.settings.kafka_stats_log_seconds)
        finally:
            await self.lanes.drain()
        self.lanes.raise_failure()

    async def _refresh_lag(self) -> None:
        """Learn the group's committed offset of newly assigned partitions (else a restarted consumer
        would report the whole partition as lag until its first commit), then snapshot the lag."""
        assigned = self.consumer.assignment()
        for tp in [tp for tp in self.stats.committed if tp not in assigned]:
            del self.stats.committed[tp]  # re-read if it comes back: another member may have moved it
        for tp in sorted(assigned - self.stats.committed.keys()):
            try:
                committed = await asyncio.wait_for(self.consumer.committed(tp), COMMITTED_TIMEOUT_SECONDS)
            except (KafkaError, IllegalStateError, TimeoutError):
                break  # the coordinator is unreachable: try again next round, not once per partition
            self.stats.committed.setdefault(tp, committed or 0)
        self.stats.lag_by_partition = self.stats.partition_lags(self.consumer)

    async def _process(
        self, tp: TopicPartition, messages: Sequence[ConsumerRecord], leave: asyncio.Event
    ) -> None:
        """A partition's batch in offset order (its lane), then commit up to the last one done;
        a long batch commits on the way too, so a crash redelivers at most a second's work."""
        next_offset = committed = None
        last_commit = time.monotonic()
        for message in messages:
            if leave.is_set() or tp not in self.consumer.assignment():
                break  # revoked or stopping: the next owner (or run) starts at our last commit
            if not await self._handle_until_done(message, leave):
                break
            next_offset = message.offset + 1
            if time.monotonic() - last_commit >= COMMIT_EVERY_SECONDS:
                await self._commit(tp, next_offset)
                committed, last_commit = next_offset, time.monotonic()
        if next_offset is not None and next_offset != committed:
            await self._commit(tp, next_offset)

    async def _handle_until_done(self, message: ConsumerRecord, leave: asyncio.Event) -> bool:
        """Retry while PostgreSQL, Temporal or the broker is away; False if told to leave first.

        The partition stays paused meanwhile (its lane runs), so nothing after it is fetched,
        accepted or committed; the fetch loop keeps polling, so the group keeps us.
        """
        self.stats.consumed += 1
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                await self._handle(message)
                return True
            except (ServiceUnavailable, KafkaError) as error:
                self.stats.retries += 1
                log.warning(
                    "offset %s/%s/%s held back (%s); retrying in %.1fs",
                    message.topic,
                    message.partition,
                    message.offset,
                    error,
                    delay,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(leave.wait(), delay)
            if leave.is_set():
                return False
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _handle(self, message: ConsumerRecord) -> None:
        try:
            decoded = decode_request(
                message.value,
                message.key,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                max_bytes=self.settings.kafka_max_message_bytes,
                timestamp=message.timestamp,
            )
            decoded.request_id = await self._request_id(decoded, _produced_at(message))
            bind_request_id(decoded.request_id)
            account = decoded.body.context.account_id
            if not may_act_for(self.settings.kafka_requests_accounts, account):
                raise PoisonMessage(
                    f"account {account} may not be named on topic {message.topic} (KAFKA_REQUESTS_ACCOUNTS)"
                )
            accepted = await self.accept.create(
                decoded.body,
                source="kafka",
                request_id=decoded.request_id,
                message_key=decoded.message_key,
                require_row=True,
            )
        except PoisonMessage as poison:
            await self._dead_letter(message, poison.reason)
            return
        except InvalidRequest as invalid:
            await self._dead_letter(message, f"invalid DNS data: {invalid}")
            return
        except IdempotencyConflict:
            await self._dead_letter(message, "request_id already used for a different request")
            return
        except (NameOwnedByAnotherAccount, RecordConflict) as refused:
            await self._dead_letter(message, str(refused))
            return
        except (DataError, psycopg2.DataError, UnicodeEncodeError) as refused:
            # Validation should have refused it first; a value that cannot be stored is as final.
            await self._dead_letter(message, f"cannot be stored: {_database_reason(refused)}")
            return
        if accepted.created:
            self.stats.accepted += 1
        else:
            self.stats.duplicates += 1

    async def _request_id(self, decoded: DecodedRequest, produced_at: datetime | None) -> str:
        """The id of a message without its own: derived from the whole message, unless the message
        was accepted before dnsorch told resets apart, under its position's id. The request there
        is this message's when it has this body and was accepted after the message was produced;
        an older one belongs to an earlier message at the same offset (before a reset)."""
        if decoded.position_request_id is None:
            return decoded.request_id
        found = await self._db(request_rows.fingerprint_and_acceptance, decoded.position_request_id)
        if found is None or found[0] != request_hash(decoded.body, "create"):
            return decoded.request_id
        if produced_at is not None and found[1] < produced_at - CLOCK_SKEW:
            return decoded.request_id
        return decoded.position_request_id

    async def _dead_letter(self, message: ConsumerRecord, reason: str) -> None:
        """Send to the DLQ unless a previous delivery already did, then commit past it at once.

        The ledger row is written after the broker acknowledged the dead letter: a crash in
        between (milliseconds) is the one way a dead letter can be sent twice.
        """
        where = (message.topic, message.partition, message.offset)
        reason = clean_reason(reason)
        if await self._db(dead_letters.dead_letter_sent, *where, _produced_at(message)):
            self.stats.duplicates += 1
        else:
            await send_to_dead_letters(self.producer, self.settings.kafka_dlq_topic, message, reason)
            await self._db(dead_letters.record_dead_letter, *where, decode_key(message.key), reason)
            self.stats.dead_lettered += 1
            log.warning("offset %s/%s/%s dead-lettered: %s", *where, reason)
        await self._commit(TopicPartition(message.topic, message.partition), message.offset + 1)

    async def _db(self, write: Callable[..., T], *args: object) -> T:
        def run() -> T:
            with self.accept.engine.begin() as conn:
                return write(conn, *args)

        try:
            return await asyncio.to_thread(run)
        except OperationalError as error:
            raise ServiceUnavailable("PostgreSQL is unavailable") from error

    async def _commit(self, tp: TopicPartition, offset: int) -> None:
        try:
            await self.consumer.commit({tp: offset})
            self.stats.committed[tp] = offset
        except (CommitFailedError, IllegalStateError) as error:
            # A rebalance took the partition: its next owner redelivers, which starts nothing twice.
            log.warning("commit of %s at %d failed (%s); messages will be redelivered", tp, offset, error)


def _produced_at(message: ConsumerRecord) -> datetime | None:
    """The record's timestamp (set by its producer, or by the broker when the topic says so)."""
    if message.timestamp is None or message.timestamp < 0:
        return None
    return datetime.fromtimestamp(message.timestamp / 1000, UTC)


def _database_reason(error: BaseException) -> str:
    """PostgreSQL's message and detail, without the statement and parameters SQLAlchemy adds."""
    cause = getattr(error, "orig", None) or error
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    detail = getattr(getattr(cause, "diag", None), "message_detail", None)
    return f"{reason} ({detail})" if detail else reason
