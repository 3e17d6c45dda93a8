"""A message's path to a request: decode → accept, or a dead letter for what can never be accepted.

The loop that brings the messages (consumer/lanes.py) runs this path for each partition's messages
in offset order, retries it while PostgreSQL or the broker is away, and commits behind it.
Here:
- the lane hands over a group of a partition's messages (consumer/lanes.py); each is decoded, the
  group's requests are checked together on one connection (accept's steps 1-2), then stored
  together in ONE transaction (`_store_group`, a group commit): a transaction and a thread hop per
  message cost more CPU than the rest of its accept;
- a message is accepted once its row and its queued workflow start commit (the workflow starts
  after, dnsorch/requests/starting.py), or dead-lettered once the broker acknowledged the dead
  letter; either way it is done, and its offset may be committed (Temporal being down holds nothing);
- a value PostgreSQL refuses fails its whole group: the group is then stored a message at a time,
  so that message alone is dead-lettered;
- a redelivered message maps to the same request id, so it starts nothing new; a new message at an
  offset used before a broker or topic reset is a new request (decode.derived_request_id);
- what PostgreSQL cannot answer now raises ServiceUnavailable, so the loop holds the message back
  rather than dead-lettering it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import psycopg2
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from sqlalchemy.exc import DataError, OperationalError
from temporalio.api.common.v1 import Payload

from consumer.dead_letter import clean_reason, send_to_dead_letters
from consumer.decode import DecodedRequest, PoisonMessage, decode_key, decode_request
from consumer.lanes import LEFT, IngestLoop
from dnsorch.contracts import (
    DnsorchError,
    IdempotencyConflict,
    InvalidRequest,
    NameOwnedByAnotherAccount,
    ProvisioningInput,
    RecordConflict,
    ServiceUnavailable,
)
from dnsorch.logging import bind_request_id
from dnsorch.requests import Accepted, AcceptService, CreateCall, request_hash
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
        """Until `stop`; then every lane finishes its group in hand and commits (IngestLoop.run)."""
        await self.loop.run(stop)

    async def _handle(self, messages: list[ConsumerRecord], leave: asyncio.Event) -> bool:
        """A group of a partition's messages, in offset order: decode each, check them together,
        store their requests in one transaction, finish each; dead-letter any that can never be
        accepted. False if told to leave first (a redelivery then repeats nothing that was done)."""
        decoded: list[tuple[ConsumerRecord, DecodedRequest]] = []
        for message in messages:
            found = await self.loop.until_done(functools.partial(self._decode, message), message, leave)
            if found is LEFT:
                return False
            if found is not None:
                decoded.append((message, found))
        if not decoded:
            return True
        calls = [
            CreateCall(
                d.body, d.request_id, d.message_key, d.body.not_before, d.body.expires_at, d.body.emergency
            )
            for _, d in decoded
        ]
        prepare = functools.partial(self.accept.prepare_many, calls, "kafka")
        prepared = await self.loop.until_done(prepare, decoded[0][0], leave)
        if prepared is LEFT:
            return False
        group: list[tuple[ConsumerRecord, ProvisioningInput]] = []
        for (message, _), outcome in zip(decoded, prepared, strict=True):
            if isinstance(outcome, DnsorchError):
                refused = functools.partial(self._dead_letter_or_raise, message, outcome)
                if await self.loop.until_done(refused, message, leave) is LEFT:
                    return False
            elif isinstance(outcome, Accepted):
                self.stats.duplicates += 1
            else:
                group.append((message, outcome))
        return not group or await self._store_group(group, leave)

    async def _decode(self, message: ConsumerRecord) -> DecodedRequest | None:
        """The message's request, or None once it is dead-lettered."""
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
        except PoisonMessage as poison:
            await self._dead_letter(message, poison.reason)
            return None
        return decoded

    async def _store_group(
        self, group: list[tuple[ConsumerRecord, ProvisioningInput]], leave: asyncio.Event
    ) -> bool:
        """Store a lane's prepared messages in ONE transaction, then finish each in offset order;
        False if told to leave first. A value PostgreSQL refuses rolls the whole group back: then
        each is stored alone, so the one refused is dead-lettered and its neighbours accepted."""
        first = group[0][0]
        store = functools.partial(self.accept.store_many, [params for _, params in group])
        try:
            stored = await self.loop.until_done(store, first, leave)
        except Exception as error:
            if _refusal(error) is None:
                raise
            if len(group) > 1:
                for item in group:
                    if not await self._store_group([item], leave):
                        return False
                return True
            refused = functools.partial(self._dead_letter_or_raise, first, error)
            return await self.loop.until_done(refused, first, leave) is not LEFT
        if stored is LEFT:
            return False
        for (message, params), written in zip(group, stored, strict=True):
            finish = functools.partial(self._finish, message, params, written)
            if await self.loop.until_done(finish, message, leave) is LEFT:
                return False
        return True

    async def _finish(
        self, message: ConsumerRecord, params: ProvisioningInput, stored: Payload | None
    ) -> None:
        try:
            accepted = await self.accept.finish(params, stored)
        except Exception as error:
            await self._dead_letter_or_raise(message, error)
            return
        if accepted.created:
            self.stats.accepted += 1
        else:
            self.stats.duplicates += 1

    async def _dead_letter_or_raise(self, message: ConsumerRecord, error: Exception) -> None:
        """Dead-letter a message `error` says can never be accepted; raise any other error."""
        reason = _refusal(error)
        if reason is None:
            raise error
        await self._dead_letter(message, reason)

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
        """Send to the DLQ unless a previous delivery already did; the lane commits past it (after
        the group before it, if any, is stored).

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


def _refusal(error: Exception) -> str | None:
    """Why a message can never be accepted, its dead letter's reason; None for any other error."""
    match error:
        case PoisonMessage():
            return error.reason
        case InvalidRequest():
            return f"invalid DNS data: {error}"
        case IdempotencyConflict():
            return "request_id already used for a different request"
        case NameOwnedByAnotherAccount() | RecordConflict():
            return str(error)
        case DataError() | psycopg2.DataError() | UnicodeEncodeError():
            # Validation should have refused it first; a value that cannot be stored is as final.
            return f"cannot be stored: {_database_reason(error)}"
    return None


def _database_reason(error: BaseException) -> str:
    """PostgreSQL's message and detail, without the statement and parameters SQLAlchemy adds."""
    cause = getattr(error, "orig", None) or error
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    detail = getattr(getattr(cause, "diag", None), "message_detail", None)
    return f"{reason} ({detail})" if detail else reason
