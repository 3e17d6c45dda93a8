"""Partitions side by side, each in offset order: one lane (a task) per partition with a batch in hand.

Keyed messages for one DNS name share a partition, and accept order decides which request changes
a name first, so a partition's messages are accepted one after the other; only partitions overlap.
A partition is paused while its lane runs, so the next fetch brings nothing of it until the lane
has finished (and committed) its batch: never two lanes for one partition.

A rebalance waits for the revoked partitions' lanes (`on_partitions_revoked` runs before this
member rejoins, while the partitions are still its own): each stops after the message in hand and
commits what it did, so the next owner starts right after it and accepts nothing twice, and no
commit is ever sent for a partition this member no longer holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError
from aiokafka.structs import ConsumerRecord

log = logging.getLogger(__name__)

MAX_LANES = 8
"""Partitions accepted at once. Each lane holds one PostgreSQL connection or one Temporal call at a
time; the consumer's engine is sized for this many (consumer/main.py). A member assigned more
partitions runs this many and lets the others wait their turn."""

Work = Callable[[TopicPartition, Sequence[ConsumerRecord], asyncio.Event], Awaitable[None]]
"""Handle a partition's batch in offset order and commit what was done; stop after the message in
hand once the event is set (a revocation or a shutdown)."""


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
        """Stop the lanes of `partitions` (all if None) after their message in hand, and wait until
        each has committed what it did; returns how many were running."""
        lanes = [lane for tp, lane in self._lanes.items() if partitions is None or tp in partitions]
        for lane in lanes:
            lane.leave.set()
        await asyncio.gather(*(lane.task for lane in lanes), return_exceptions=True)
        return len(lanes)

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        running = await self.drain(revoked)
        if running:
            log.info(
                "partitions revoked: %d lanes stopped after their message in hand and committed", running
            )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Nothing to do: a new assignment starts unpaused, at the group's committed offsets."""
