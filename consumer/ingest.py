"""A message's path to a request: decode → accept, or a dead letter for what can never be accepted.

The loop that brings the messages (consumer/lanes.py) runs this path for each partition's messages
in offset order, retries it while PostgreSQL or the broker is away, and commits behind it.
Here:
- a message is accepted once its row and its queued workflow start commit (the workflow starts
  after, dnsorch/requests/starting.py), or dead-lettered once the broker acknowledged the dead
  letter; either way it is done, and its offset may be committed (Temporal being down holds nothing);
- a redelivered message maps to the same request id, so it starts nothing new; a new message at an
  offset used before a broker or topic reset is a new request (decode.derived_request_id);
- what PostgreSQL cannot answer now raises ServiceUnavailable, so the loop holds the message back
  rather than dead-lettering it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import psycopg2
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from sqlalchemy.exc import DataError, OperationalError

from consumer.dead_letter import clean_reason, send_to_dead_letters
from consumer.decode import DecodedRequest, PoisonMessage, decode_key, decode_request
from consumer.lanes import IngestLoop
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
CLOCK_SKEW = timedelta(minutes=5)
"""How far a producer's clock may run ahead of PostgreSQL's when telling a redelivery of a message
accepted under its position's id from a newer message at that position (see `_request_id`)."""


def may_act_for(allowed: list[str], account: str) -> bool:
    """Whether a message on the requests topic may act for `account` (KAFKA_REQUESTS_ACCOUNTS)."""
    return "*" in allowed or account in allowed


class Ingestor:
    """Each message's path (`_handle`), run by the ingest loop (consumer/lanes.py) in offset order;
    the loop's `lanes` (the rebalance listener) and `stats` (the metrics) are reached through here."""

    def __init__(
        self,
        settings: Settings,
        accept: AcceptService,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
    ) -> None:
        self.settings = settings
        self.accept = accept
        self.producer = producer
        self.loop = IngestLoop(consumer, self._handle, settings.kafka_stats_log_seconds)
        self.lanes = self.loop.lanes
        self.stats = self.loop.stats

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`; then every lane finishes its message in hand and commits (IngestLoop.run)."""
        await self.loop.run(stop)

    async def _handle(self, message: ConsumerRecord) -> None:
        """Accept the message, or dead-letter what can never be accepted; ServiceUnavailable (or a
        KafkaError from the dead-letter topic) leaves it to the loop to retry."""
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
                not_before=decoded.body.not_before,
                expires_at=decoded.body.expires_at,
                emergency=decoded.body.emergency,
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
        await self.loop.commit(TopicPartition(message.topic, message.partition), message.offset + 1)

    async def _db(self, write: Callable[..., T], *args: object) -> T:
        def run() -> T:
            with self.accept.engine.begin() as conn:
                return write(conn, *args)

        try:
            return await asyncio.to_thread(run)
        except OperationalError as error:
            raise ServiceUnavailable.postgresql() from error


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
