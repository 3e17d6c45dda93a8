"""The ingest loop: fetch, partitions side by side each in offset order, retries through outages, commits.

Guarantees (see docs/kafka.md):
- a partition's messages are accepted one after the other in offset order (keyed messages for one
  name share a partition, and accept order decides which request changes a name first); partitions
  run side by side, one lane (a task) each;
- an offset is committed only after every message before it is handled: accepted or dead-lettered
  (consumer/ingest.py says how); a lane handles up to MAX_GROUP messages at a time, their requests
  stored in one transaction, and commits only behind whole groups;
- while PostgreSQL, Temporal or the broker is down a partition's lane retries its message with
  backoff and its partition stays paused; nothing after it is committed, so nothing is skipped;
- a revoked partition's lane stops after its group in hand and commits before the partition
  moves, so its next owner accepts nothing twice.

A partition is paused while its lane runs, so the next fetch brings nothing of it until the lane
has finished (and committed) its batch: never two lanes for one partition.

A rebalance waits for the revoked partitions' lanes (`on_partitions_revoked` runs before this
member rejoins, while the partitions are still its own): each stops after the group in hand and
commits what it did, so the next owner starts right after it and accepts nothing twice, and no
commit is ever sent for a partition this member no longer holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord

from dnsorch.contracts import ServiceUnavailable

log = logging.getLogger(__name__)

MAX_LANES = 8
"""Partitions accepted at once. Each lane holds one PostgreSQL connection or one Temporal call at a
time; the consumer's engine is sized for this many (consumer/main.py). A member assigned more
partitions runs this many and lets the others wait their turn."""

Work = Callable[[TopicPartition, Sequence[ConsumerRecord], asyncio.Event], Awaitable[None]]
"""Handle a partition's batch in offset order and commit what was done; stop after the group in
hand once the event is set (a revocation or a shutdown)."""

Handle = Callable[[list[ConsumerRecord], asyncio.Event], Awaitable[bool]]
"""Accept or dead-letter a group of a partition's messages in offset order, retrying (`until_done`)
while PostgreSQL or the broker is away; False if told to leave (the event) before all are done."""

T = TypeVar("T")


class Left(enum.Enum):
    LEFT = "left"
    """A retry gave up: the lane was told to leave (a revocation or a shutdown)."""


LEFT = Left.LEFT

RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 15.0
COMMITTED_TIMEOUT_SECONDS = 2.0
FETCH_WAIT_MS = 500
MAX_RECORDS = 200
COMMIT_EVERY_SECONDS = 1.0
MAX_GROUP = 50
"""Messages of a partition stored in one PostgreSQL transaction at most (a group commit)."""


@dataclass
class Lane:
    task: asyncio.Task[None]
    leave: asyncio.Event = field(default_factory=asyncio.Event)


class Lanes(ConsumerRebalanceListener):
    def __init__(self, consumer: AIOKafkaConsumer, work: Work, limit: int = MAX_LANES) -> None:
        self.consumer = consumer
        self.work = work
        self._slots = asyncio.Semaphore(limit)
        self._lanes: dict[TopicPartition, Lane] = {}
        self._failure: BaseException | None = None

    def start(self, tp: TopicPartition, messages: Sequence[ConsumerRecord]) -> None:
        """Give a fetched batch its lane; the partition fetches nothing more until the lane ends."""
        if not messages:
            return
        if tp in self._lanes:
            # Cannot happen while the partition is paused; should it, fetch these again afterwards.
            log.warning("%s fetched while its lane runs; it will be fetched again", tp)
            self.consumer.seek(tp, messages[0].offset)
            return
        self.consumer.pause(tp)
        leave = asyncio.Event()
        task = asyncio.create_task(self._run(tp, messages, leave), name=f"lane {tp.topic}[{tp.partition}]")
        self._lanes[tp] = Lane(task, leave)
        task.add_done_callback(lambda done: self._finished(tp, done))

    async def _run(
        self, tp: TopicPartition, messages: Sequence[ConsumerRecord], leave: asyncio.Event
    ) -> None:
        async with self._slots:
            if not leave.is_set():
                await self.work(tp, messages, leave)

    def _finished(self, tp: TopicPartition, task: asyncio.Task[None]) -> None:
        lane = self._lanes.get(tp)
        if lane is not None and lane.task is task:
            del self._lanes[tp]
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()
        if tp in self.consumer.assignment():
            with contextlib.suppress(IllegalStateError):  # unassigned in between: nothing to resume
                self.consumer.resume(tp)

    def raise_failure(self) -> None:
        """A lane that died of an unexpected error stops the consumer, as it did before lanes."""
        if self._failure is not None:
            raise self._failure

    @property
    def busy(self) -> int:
        return len(self._lanes)

    async def drain(self, partitions: Collection[TopicPartition] | None = None) -> int:
        """Stop the lanes of `partitions` (all if None) after their group in hand, and wait until
        each has committed what it did; returns how many were running."""
        lanes = [lane for tp, lane in self._lanes.items() if partitions is None or tp in partitions]
        for lane in lanes:
            lane.leave.set()
        await asyncio.gather(*(lane.task for lane in lanes), return_exceptions=True)
        return len(lanes)

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        running = await self.drain(revoked)
        if running:
            log.info("partitions revoked: %d lanes stopped after their group in hand and committed", running)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Nothing to do: a new assignment starts unpaused, at the group's committed offsets."""


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


class IngestLoop:
    """Fetch, and hand a partition's batch to `handle` in its lane, a group at a time; commit behind it."""

    def __init__(self, consumer: AIOKafkaConsumer, handle: Handle, stats_log_seconds: float) -> None:
        self.consumer = consumer
        self.handle = handle
        self.stats_log_seconds = stats_log_seconds
        self.stats = IngestStats()
        self.lanes = Lanes(consumer, self._process)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch, and give each partition's batch its lane; on stop, let every lane finish its
        group in hand and commit, then return."""
        try:
            while not stop.is_set():
                self.lanes.raise_failure()
                batches = await self.consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=MAX_RECORDS)
                for tp, messages in batches.items():
                    self.lanes.start(tp, messages)
                await self._refresh_lag()
                self.stats.maybe_log(self.consumer, self.stats_log_seconds)
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
        """A partition's batch in offset order (its lane), up to MAX_GROUP messages at a time (one
        transaction stores a group's requests, consumer/ingest.py); then commit up to the last group
        done. A long batch commits on the way too, so a crash redelivers at most a second's work."""
        done = committed = None
        last_commit = time.monotonic()
        for first in range(0, len(messages), MAX_GROUP):
            if leave.is_set() or tp not in self.consumer.assignment():
                break  # revoked or stopping: the next owner (or run) starts at our last commit
            group = list(messages[first : first + MAX_GROUP])
            self.stats.consumed += len(group)
            if not await self.handle(group, leave):
                break
            done = group[-1].offset + 1
            if time.monotonic() - last_commit >= COMMIT_EVERY_SECONDS:
                await self.commit(tp, done)
                committed, last_commit = done, time.monotonic()
        if done is not None and done != committed:
            await self.commit(tp, done)

    async def until_done(
        self, attempt: Callable[[], Awaitable[T]], message: ConsumerRecord, leave: asyncio.Event
    ) -> T | Left:
        """Retry while PostgreSQL, Temporal or the broker is away; LEFT if told to leave first.

        The partition stays paused meanwhile (its lane runs), so nothing after it is fetched,
        accepted or committed; the fetch loop keeps polling, so the group keeps us.
        """
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                return await attempt()
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
                return LEFT
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def commit(self, tp: TopicPartition, offset: int) -> None:
        try:
            await self.consumer.commit({tp: offset})
            self.stats.committed[tp] = offset
        except (CommitFailedError, IllegalStateError) as error:
            # A rebalance took the partition: its next owner redelivers, which starts nothing twice.
            log.warning("commit of %s at %d failed (%s); messages will be redelivered", tp, offset, error)
