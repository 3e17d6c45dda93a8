"""Kafka ids survive an offset reset: after the broker loses its log (Tansu keeps it in memory only, so
a restart is one), new messages start again at offset 0. They are new requests and new dead letters,
never "request_id already used" nor skipped as sent; a redelivery still maps to what it was."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine, text
from temporalio.client import Client

from consumer.dead_letter import HEADER_OFFSET
from consumer.decode import position_request_id
from devstack.kafka import TansuBroker
from devstack.temporal import TemporalDevServer
from dnsorch.requests import AcceptService, CreateDnsRequest
from dnsorch.settings import Settings
from dnsorch.temporal import ProvisioningGateway
from tests.fixtures.kafka_tools import KafkaRun, create_message, ingest_only_env, json_bytes, rows_for
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TansuBroker]:
    """A broker of this test's own: the test restarts it, which empties it."""
    tansu = TansuBroker(port=free_port(), log_file=tmp_path / "tansu.log")
    tansu.start()
    try:
        yield tansu
    finally:
        tansu.stop()


@pytest.fixture
def run(
    broker: TansuBroker, database_url: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> Iterator[KafkaRun]:
    env = ingest_only_env(database_url, temporal_server.address, tmp_path)  # no worker: rows and starts only
    kafka = KafkaRun(broker.bootstrap, env, tmp_path, partitions=1)  # one partition: offsets 0, 1, 2
    try:
        yield kafka
    finally:
        kafka.stop_all()


def stream(run: KafkaRun, label: str) -> list[bytes]:
    """Two requests without a request_id, then a poison message (invalid DNS data)."""
    return [
        json_bytes(create_message(f"{label}-a.example.test", "192.0.2.31", run.account)),
        json_bytes(create_message(f"{label}-b.example.test", "192.0.2.32", run.account)),
        json_bytes(create_message(f"{label}-bad.example.test", "300.1.1.1", run.account)),
    ]


async def consume_all(run: KafkaRun, name: str) -> None:
    run.start_consumer(name)
    await run.until_caught_up()
    assert run.stop(name) == 0


def domains(engine: Engine, account: str) -> list[str]:
    with engine.connect() as conn:
        query = text("SELECT domain FROM dns_requests WHERE account_id = :a ORDER BY domain")
        return list(conn.execute(query, {"a": account}).scalars())


async def test_messages_after_a_broker_reset_are_new_requests_and_new_dead_letters(
    broker: TansuBroker, run: KafkaRun, engine: Engine
) -> None:
    await run.create_topics()
    await run.produce(stream(run, "before"))
    await consume_all(run, "before")
    assert domains(engine, run.account) == ["before-a.example.test", "before-b.example.test"]

    broker.stop()  # the log, the offsets and the groups are gone: the next messages are 0, 1, 2 again
    broker.start()
    await run.create_topics()
    after = stream(run, "after")
    await run.produce(after)
    await consume_all(run, "after")

    assert domains(engine, run.account) == [
        "after-a.example.test",
        "after-b.example.test",
        "before-a.example.test",
        "before-b.example.test",
    ], run.log_tail()
    [dead] = await run.read_all(run.dlq_topic, expected=1)
    assert (dead.value, dict(dead.headers)[HEADER_OFFSET]) == (after[2], b"2"), "the new poison, not skipped"

    # A redelivery of the new messages (a new group replays them) maps to what they became.
    run.env["KAFKA_GROUP_ID"] += "-replay"
    await consume_all(run, "replay")
    assert len(rows_for(engine, run.account)) == 4
    assert len(await run.read_all(run.dlq_topic, expected=1)) == 1, (
        "a redelivered poison message is not sent twice"
    )
    assert "request_id already used" not in run.log_text()


async def test_a_message_accepted_under_its_positions_id_before_the_upgrade_keeps_it(
    run: KafkaRun, engine: Engine, database_url: str, temporal_server: TemporalDevServer
) -> None:
    """Until resets were told apart a message's id came from its position alone. Redelivered now (it
    was accepted, its offset not committed), it is that request still; an older request at that
    position, accepted before the message was produced, was an earlier message's (before a reset)."""
    await run.create_topics()
    redelivered = json_bytes(create_message("kept.example.test", "192.0.2.41", run.account))
    after_reset = json_bytes(create_message("again.example.test", "192.0.2.42", run.account))
    settings = Settings(
        database_url=database_url,
        temporal_address=temporal_server.address,
        temporal_task_queue=run.env["TEMPORAL_TASK_QUEUE"],
        dns_zones=["example.test"],
    )
    client = await Client.connect(temporal_server.address)
    accept = AcceptService(engine, ProvisioningGateway(client, settings.temporal_task_queue), settings)

    async def accepted_by_the_old_consumer(value: bytes, offset: int) -> str:
        body = CreateDnsRequest.model_validate_json(value)
        request_id = position_request_id(run.requests_topic, 0, offset)
        await accept.create(body, source="kafka", request_id=request_id)
        return request_id

    earlier = await accepted_by_the_old_consumer(
        after_reset, 1
    )  # the same body, long before offset 1's message
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(run.requests_topic, redelivered, partition=0)
        an_hour_later = int((time.time() + 3600) * 1000)
        await producer.send_and_wait(run.requests_topic, after_reset, partition=0, timestamp_ms=an_hour_later)
    finally:
        await producer.stop()
    kept = await accepted_by_the_old_consumer(redelivered, 0)  # offset 0 accepted, not yet committed

    await consume_all(run, "upgraded")

    rows = set(rows_for(engine, run.account))
    assert len(rows) == 3 and {kept, earlier} <= rows, run.log_tail()
    assert domains(engine, run.account) == ["again.example.test", "again.example.test", "kept.example.test"]
