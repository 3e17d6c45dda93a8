"""The ingest loop's lanes against an in-memory broker: partitions overlap, each stays in offset order,
commits never pass a message not yet accepted, a revoked partition is handed over exactly where its
lane stopped, and an outage holds messages back instead of dead-lettering them."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError
from aiokafka.structs import ConsumerRecord
from sqlalchemy.exc import DataError

from consumer import lanes
from consumer.ingest import Ingestor
from dnsorch.contracts import ServiceUnavailable
from dnsorch.settings import Settings

TOPIC = "requests"


@dataclass
class Broker:
    """Partitions' records and the group's committed offsets, shared by the members."""

    partitions: int
    log: dict[TopicPartition, list[ConsumerRecord]] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)

    def produce(self, partition: int, request_id: str) -> None:
        tp = TopicPartition(TOPIC, partition)
        records = self.log.setdefault(tp, [])
        body = {
            "request_id": request_id,
            "context": {"account_id": "acct-1"},
            "resource": {"record_type": "A", "domain": f"p{partition}.example.test", "target": "192.0.2.1"},
        }
        records.append(
            ConsumerRecord(
                topic=TOPIC,
                partition=partition,
                offset=len(records),
                timestamp=0,
                timestamp_type=0,
                key=f"p{partition}".encode(),
                value=json.dumps(body).encode(),
                checksum=None,
                serialized_key_size=0,
                serialized_value_size=0,
                headers=(),
            )
        )


class Member:
    """The AIOKafkaConsumer calls the ingestor makes; commits to a partition it does not hold fail
    as aiokafka's do, and each is recorded with whether the member held the partition then."""

    def __init__(self, broker: Broker, partitions: list[int]) -> None:
        self.broker = broker
        self.assigned = {TopicPartition(TOPIC, p) for p in partitions}
        self.position = {tp: broker.committed.get(tp, 0) for tp in self.assigned}
        self.paused: set[TopicPartition] = set()
        self.commits: list[tuple[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, Any]:
        deadline = asyncio.get_running_loop().time() + timeout_ms / 1000
        while True:
            batches = {}
            for tp in sorted(self.assigned - self.paused):
                records = self.broker.log.get(tp, [])[self.position[tp] :][: max_records or None]
                if records:
                    batches[tp] = records
                    self.position[tp] = records[-1].offset + 1
            if batches or asyncio.get_running_loop().time() >= deadline:
                return batches
            await asyncio.sleep(0.005)

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        for tp in tps:
            if tp not in self.assigned:
                raise IllegalStateError(f"{tp} is not assigned")
            self.paused.discard(tp)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position[tp] = offset

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            if tp not in self.assigned:
                raise IllegalStateError(f"Partition {tp} is not assigned")
            self.commits.append((tp, offset))
            self.broker.committed[tp] = offset

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.broker.committed.get(tp)

    def highwater(self, tp: TopicPartition) -> int:
        return len(self.broker.log.get(tp, []))

    async def revoke(self, ingestor: Ingestor, keep: list[int]) -> None:
        """A rebalance as aiokafka runs it: the listener first, then the new assignment."""
        await ingestor.lanes.on_partitions_revoked(self.assignment())
        self.assigned = {TopicPartition(TOPIC, p) for p in keep}
        self.position = {tp: self.broker.committed.get(tp, 0) for tp in self.assigned}
        self.paused.clear()


@dataclass
class Accepts:
    """The accept service's `prepare_many`, `store_many` and `finish`, recording the order requests were
    stored in and the groups they were stored in."""

    where: dict[str, tuple[int, int]]
    """request id -> (partition, offset)"""
    delay: Callable[[], float] = lambda: 0.0
    order: list[tuple[int, int]] = field(default_factory=list)
    prepared: list[tuple[int, int]] = field(default_factory=list)
    groups: list[list[tuple[int, int]]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    down: bool = False
    store_down: bool = False
    refused: set[tuple[int, int]] = field(default_factory=set)
    """Positions whose values PostgreSQL refuses: a group holding one fails whole."""
    hold: dict[tuple[int, int], asyncio.Event] = field(default_factory=dict)
    holding: asyncio.Event = field(default_factory=asyncio.Event)

    async def prepare_many(self, calls: list[Any], _source: str) -> list[Any]:
        if self.down:
            raise ServiceUnavailable.postgresql()
        positions = [self.where[call.request_id] for call in calls]
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            for position in positions:
                if position in self.hold:
                    self.holding.set()
                    await self.hold[position].wait()
                await asyncio.sleep(self.delay())
                self.prepared.append(position)
        finally:
            self.in_flight -= 1
        return [SimpleNamespace(request=SimpleNamespace(request_id=call.request_id)) for call in calls]

    async def store_many(self, batch: list[Any]) -> list[bool]:
        if self.down or self.store_down:
            raise ServiceUnavailable.postgresql()
        ids = [params.request.request_id for params in batch]
        if any(self.where[request_id] in self.refused for request_id in ids):
            raise DataError("INSERT INTO dns_requests ...", {}, ValueError("value too long"))
        self.groups.append([self.where[request_id] for request_id in ids])
        self.order.extend(self.groups[-1])
        return [True] * len(ids)

    async def finish(self, params: Any, stored: bool) -> Any:
        return SimpleNamespace(created=stored)


def stream(broker: Broker, per_partition: int) -> dict[str, tuple[int, int]]:
    where = {}
    for offset in range(per_partition):
        for partition in range(broker.partitions):
            request_id = str(uuid.uuid4())
            broker.produce(partition, request_id)
            where[request_id] = (partition, offset)
    return where


def ingestor(accepts: Accepts, member: Member) -> Ingestor:
    return Ingestor(Settings(), accepts, member, SimpleNamespace())  # type: ignore[arg-type]


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def run_until_committed(
    ingest_loop: Ingestor, member: Member, totals: dict[TopicPartition, int]
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(ingest_loop.run(stop))
    try:
        await until(lambda: all(member.broker.committed.get(tp) == n for tp, n in totals.items()))
    finally:
        stop.set()
        await task


async def test_partitions_are_accepted_side_by_side_each_in_offset_order() -> None:
    broker = Broker(partitions=4)
    rng = random.Random(7)
    accepts = Accepts(stream(broker, 60), delay=lambda: rng.uniform(0, 0.003))
    member = Member(broker, [0, 1, 2, 3])
    await run_until_committed(ingestor(accepts, member), member, {tp: 60 for tp in member.assigned})

    assert sorted(accepts.order) == sorted(accepts.where.values()), "a message lost or accepted twice"
    for partition in range(4):
        offsets = [o for p, o in accepts.order if p == partition]
        assert offsets == sorted(offsets), f"partition {partition} accepted out of offset order"
    assert accepts.most_in_flight > 1, "partitions were not accepted concurrently"
    switches = sum(1 for a, b in pairwise(accepts.prepared) if a[0] != b[0])
    assert switches > 20, "partitions ran one after the other, not side by side"


async def test_a_commit_never_passes_a_message_held_back_and_an_outage_dead_letters_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lanes, "RETRY_FIRST_SECONDS", 0.01)
    broker = Broker(partitions=2)
    accepts = Accepts(stream(broker, 10))
    member = Member(broker, [0, 1])
    loop = ingestor(accepts, member)
    dead: list[ConsumerRecord] = []

    async def dead_letter(message: ConsumerRecord, _reason: str) -> None:
        dead.append(message)

    loop._dead_letter = dead_letter  # type: ignore[method-assign,assignment]
    accepts.down = True
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await until(lambda: loop.stats.retries >= 6)
    assert broker.committed == {}, "an offset was committed past a message not accepted"
    assert accepts.order == []
    accepts.down = False
    await until(lambda: all(broker.committed.get(tp) == 10 for tp in member.assigned))
    stop.set()
    await task
    assert dead == []
    assert sorted(accepts.order) == sorted(accepts.where.values())


async def test_a_revoked_partition_stops_after_its_group_in_hand_and_its_next_owner_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lanes, "MAX_GROUP", 3)  # partition 0's batch: groups 0-2, 3-5, 6-7
    broker = Broker(partitions=2)
    accepts = Accepts(stream(broker, 8))
    accepts.hold[(0, 3)] = asyncio.Event()
    first = Member(broker, [0, 1])
    loop = ingestor(accepts, first)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await until(accepts.holding.is_set)

    revoking = asyncio.create_task(first.revoke(loop, keep=[1]))
    await asyncio.sleep(0.05)
    assert not revoking.done(), "the rebalance went on while a group of the partition was in hand"
    accepts.hold[(0, 3)].set()
    await revoking
    tp0 = TopicPartition(TOPIC, 0)
    assert broker.committed[tp0] == 6, "the partition moved without its accepted messages committed"
    assert [o for p, o in accepts.order if p == 0] == [0, 1, 2, 3, 4, 5]

    second = Member(broker, [0])  # the partition's next owner
    await run_until_committed(ingestor(accepts, second), second, {tp0: 8})
    await until(lambda: broker.committed.get(TopicPartition(TOPIC, 1)) == 8)
    stop.set()
    await task

    assert sorted(accepts.order) == sorted(accepts.where.values()), "a message lost or accepted twice"
    assert [o for p, o in accepts.order if p == 0] == list(range(8))
    assert all(tp != tp0 for tp, _ in first.commits[first.commits.index((tp0, 6)) + 1 :]), (
        "committed a partition after it was revoked"
    )


async def test_a_batch_is_stored_a_group_per_transaction_and_no_commit_passes_a_group_not_stored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lanes, "RETRY_FIRST_SECONDS", 0.01)
    broker = Broker(partitions=2)
    accepts = Accepts(stream(broker, 120))
    accepts.store_down = True  # every message is prepared, none can be stored
    member = Member(broker, [0, 1])
    loop = ingestor(accepts, member)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await until(lambda: loop.stats.retries >= 6)
    assert broker.committed == {}, "an offset was committed past a message whose group was not stored"
    accepts.store_down = False
    await until(lambda: all(broker.committed.get(tp) == 120 for tp in member.assigned))
    stop.set()
    await task

    assert sorted(accepts.order) == sorted(accepts.where.values()), "a message lost or stored twice"
    assert max(len(group) for group in accepts.groups) == lanes.MAX_GROUP
    assert len(accepts.groups) < 120 * 2 / 10, "messages were stored one transaction each"
    assert all(p == group[0][0] for group in accepts.groups for p, _ in group), "a group mixed partitions"
    assert loop.stats.accepted == 240


async def test_a_value_postgresql_refuses_is_dead_lettered_alone_and_its_neighbours_are_accepted() -> None:
    broker = Broker(partitions=1)
    accepts = Accepts(stream(broker, 12))
    accepts.refused = {(0, 5)}
    member = Member(broker, [0])
    loop = ingestor(accepts, member)
    dead: list[tuple[int, str]] = []

    async def dead_letter(message: ConsumerRecord, reason: str) -> None:
        dead.append((message.offset, reason))

    loop._dead_letter = dead_letter  # type: ignore[method-assign,assignment]
    await run_until_committed(loop, member, {TopicPartition(TOPIC, 0): 12})

    assert dead == [(5, "cannot be stored: value too long")]
    assert accepts.order == [(0, offset) for offset in range(12) if offset != 5], (
        "neighbours lost or reordered"
    )
    assert loop.stats.accepted == 11
