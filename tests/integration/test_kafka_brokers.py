"""Both brokers we start ourselves speak the Kafka our consumer relies on; where they differ, we notice."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownError
from aiokafka.structs import ConsumerRecord

from devstack.kafka import ensure_topics
from devstack.kafka_apache import ApacheKafkaBroker
from tests.fixtures.kafka import KafkaBroker, unique_topics
from tests.fixtures.servers import free_port

# Registers the fixtures for this module even when tests/conftest.py does not list the plugin yet.
pytestmark = pytest.mark.integration

# Client timings from settings (PITFALLS.md): on Tansu every group join takes ≈ session timeout / 2.
GROUP_TIMINGS = {"session_timeout_ms": 6_000, "heartbeat_interval_ms": 1_000}
Sent = tuple[bytes, bytes, list[tuple[str, bytes]]]


async def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(topics)}
    finally:
        await admin.close()


def group_consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **GROUP_TIMINGS,
    )


async def consume(consumer: AIOKafkaConsumer, expected: int, within: float = 60) -> list[ConsumerRecord]:
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + within
    while len(records) < expected and time.monotonic() < deadline:
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            records.extend(batch)
    return records


async def test_ensure_topics_creates_missing_topics_with_the_requested_partitions_once(
    kafka_broker: KafkaBroker,
) -> None:
    first, second = unique_topics("ensure", 2)
    await ensure_topics(kafka_broker.bootstrap, [first], 3)
    assert await partition_counts(kafka_broker.bootstrap, [first]) == {first: 3}

    await ensure_topics(kafka_broker.bootstrap, [first, second], 3)
    await ensure_topics(kafka_broker.bootstrap, [first, second], 3)
    assert await partition_counts(kafka_broker.bootstrap, [first, second]) == {first: 3, second: 3}


async def test_keyed_messages_come_back_in_partition_order_and_the_group_resumes_after_its_commit(
    kafka_broker: KafkaBroker,
) -> None:
    bootstrap = kafka_broker.bootstrap
    [topic] = unique_topics("order")
    group = f"group-{topic}"
    await ensure_topics(bootstrap, [topic], 3)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent: dict[int, list[Sent]] = defaultdict(list)  # partition -> what we sent there, in order
        messages: list[Sent] = [
            (
                f"key-{i % 12}".encode(),
                f"value-{i}".encode(),
                [("seq", b"%d" % i), ("dup", b"a"), ("dup", b"b")],
            )
            for i in range(60)
        ]
        futures = [await producer.send(topic, value=v, key=k, headers=h) for k, v, h in messages]
        for message, metadata in zip(messages, await asyncio.gather(*futures), strict=True):
            sent[metadata.partition].append(message)
    finally:
        await producer.stop()
    assert sorted(sent) == [0, 1, 2], "the 12 keys should spread over all three partitions"

    first = group_consumer(bootstrap, topic, group)
    await first.start()
    try:
        received = await consume(first, len(messages))
        by_partition: dict[int, list[ConsumerRecord]] = defaultdict(list)
        for record in received:
            by_partition[record.partition].append(record)
        for partition, records in by_partition.items():
            assert [(r.key, r.value, list(r.headers)) for r in records] == sent[partition]
            assert [r.offset for r in records] == list(range(len(records)))
        # Commit only the first half of each partition, as if the consumer died halfway.
        committed = {TopicPartition(topic, p): len(sent[p]) // 2 for p in sent}
        await first.commit(committed)
    finally:
        await first.stop()

    second = group_consumer(bootstrap, topic, group)
    await second.start()
    try:
        rest = await consume(second, sum(len(s) - len(s) // 2 for s in sent.values()))
        resumed: dict[int, list[int]] = defaultdict(list)
        for record in rest:
            resumed[record.partition].append(record.offset)
        for partition, records in sent.items():
            assert resumed[partition] == list(range(len(records) // 2, len(records)))
        await second.commit({TopicPartition(topic, p): offsets[-1] + 1 for p, offsets in resumed.items()})

        async def lag() -> dict[int, int | None]:
            await second.getmany(timeout_ms=300)  # a fetch refreshes the high watermarks
            lags: dict[int, int | None] = {}
            for tp in second.assignment():
                highwater, done = second.highwater(tp), await second.committed(tp)
                lags[tp.partition] = None if highwater is None or done is None else highwater - done
            return lags

        deadline = time.monotonic() + 30
        while (lags := await lag()) != {0: 0, 1: 0, 2: 0} and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert lags == {0: 0, 1: 0, 2: 0}
    finally:
        await second.stop()


async def test_idempotent_producer_works_on_apache_kafka_and_is_refused_by_tansu(
    kafka_broker: KafkaBroker,
) -> None:
    [topic] = unique_topics("idempotent")
    await ensure_topics(kafka_broker.bootstrap, [topic], 1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, enable_idempotence=True)
    try:
        if kafka_broker.kind == "apache":
            await producer.start()
            metadata = await producer.send_and_wait(topic, b"once", key=b"k")
            assert metadata.offset == 0
        else:
            # Tansu answers InitProducerId with an error code aiokafka does not know. If this
            # stops raising, Tansu has gained idempotence: revisit KAFKA_IDEMPOTENT_PRODUCER=auto.
            with pytest.raises(UnknownError):
                await producer.start()
    finally:
        await producer.stop()


async def test_apache_kafka_keeps_messages_across_a_restart(kafka_libs_dir: Path, tmp_path: Path) -> None:
    broker = ApacheKafkaBroker(
        tmp_path / "data", port=free_port(), libs_dir=kafka_libs_dir, log_file=tmp_path / "kafka.log"
    )
    [topic] = unique_topics("durable")
    try:
        await asyncio.to_thread(broker.start)
        await ensure_topics(broker.bootstrap, [topic], 1)
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"survives", key=b"k")
        finally:
            await producer.stop()
        await asyncio.to_thread(broker.stop)

        await asyncio.to_thread(broker.start)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic, 0)])
            records = await consume(consumer, 1, within=30)
        finally:
            await consumer.stop()
        assert [(r.key, r.value) for r in records] == [(b"k", b"survives")]
    finally:
        await asyncio.to_thread(broker.stop)
