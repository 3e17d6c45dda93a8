"""Kafka ingestion on real brokers (Tansu and Apache Kafka), real PostgreSQL and real Temporal.

No provisioning worker polls these task queues: the tests are about ingestion (rows and
workflow starts), not about 500 playbook runs.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client

from consumer.dead_letter import HEADER_OFFSET, HEADER_PARTITION, HEADER_REASON
from devstack.temporal import TemporalDevServer
from tests.fixtures.kafka_tools import (
    KafkaRun,
    create_message,
    ingest_only_env,
    json_bytes,
    rows_for,
    until_workflows,
    workflow_ids,
)

pytestmark = pytest.mark.integration
KILLS = 2  # consumers killed mid-stream in the 500-message test

POISON = [
    b"\xff\xfe not utf-8",
    b"{ not json",
    b'["a", "list"]',
    json_bytes({"context": {"account_id": "x"}}),
    json_bytes(create_message("www.example.org", "192.0.2.1", "poison")),  # unmanaged zone
    json_bytes(create_message("bad.example.test", "300.1.1.1", "poison")),  # invalid DNS data
    b"{" + b'"x":' * 5 + b"1" + b"}" * 5,  # not even JSON: braces do not match
    b"x" * 70_000,  # oversized
]


@pytest.fixture
def kafka_run(
    kafka_broker: Any, database_url: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> Any:
    """A run on each broker in turn."""
    yield from _run_on(kafka_broker, database_url, temporal_server, tmp_path)


@pytest.fixture
def apache_run(
    apache_kafka: Any, database_url: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> Any:
    """A run on Apache Kafka: for consumer kills, which Tansu's slow group coordination (≈23 s per
    new group, 83 s after a vanished member) would stretch into minutes."""
    yield from _run_on(apache_kafka, database_url, temporal_server, tmp_path)


def _run_on(broker: Any, database_url: str, temporal_server: TemporalDevServer, tmp_path: Path) -> Any:
    env = ingest_only_env(database_url, temporal_server.address, tmp_path)
    run = KafkaRun(broker.bootstrap, env, tmp_path)
    try:
        yield run
    finally:
        run.stop_all()


def build_stream(account: str, n: int = 500) -> tuple[list[bytes], set[str], list[bytes]]:
    """~5% poison, ~5% exact duplicates of earlier valid messages, the rest unique requests."""
    rng = random.Random(42)
    values: list[bytes] = []
    valid_ids: set[str] = set()
    poison: list[bytes] = []
    valid_values: list[bytes] = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.05:
            value = POISON[len(poison) % len(POISON)]
            poison.append(value)
        elif roll < 0.10 and valid_values:
            value = rng.choice(valid_values)
        else:
            request_id = str(uuid.uuid4())
            value = json_bytes(
                create_message(f"h{i}.example.test", f"192.0.2.{i % 250 + 1}", account, request_id)
            )
            valid_ids.add(request_id)
            valid_values.append(value)
        values.append(value)
    return values, valid_ids, poison


async def test_500_messages_with_poison_and_duplicates_survive_two_consumer_kills(
    apache_run: KafkaRun, engine: Engine, temporal_server: TemporalDevServer
) -> None:
    kafka_run = apache_run
    await kafka_run.create_topics()
    values, valid_ids, poison = build_stream(kafka_run.account)
    client = await Client.connect(temporal_server.address)
    chunks = [values[:170], values[170:340], values[340:]]

    await kafka_run.produce(chunks[0])
    kafka_run.start_consumer("c1")
    await kafka_run.until_rows(engine, 60, exact=False, timeout=90)
    await kafka_run.produce(chunks[1])
    kafka_run.kill("c1")

    kafka_run.start_consumer("c2")
    await kafka_run.until_rows(engine, 220, exact=False, timeout=90)
    await kafka_run.produce(chunks[2])
    kafka_run.kill("c2")

    kafka_run.start_consumer("c3")  # after KILLS kills
    await kafka_run.until_rows(engine, len(valid_ids), exact=False, timeout=120)
    await kafka_run.until_caught_up()
    # The starts the killed consumers left queued: the survivor's sweep takes them.
    ids = await until_workflows(client, kafka_run.account, len(valid_ids))
    assert kafka_run.stop("c3") == 0

    assert sorted(rows_for(engine, kafka_run.account)) == sorted(valid_ids)
    assert sorted(ids) == sorted(f"dns-request-{i}" for i in valid_ids)

    dead = await kafka_run.read_all(kafka_run.dlq_topic, expected=len(poison))
    origins = Counter((dict(r.headers)[HEADER_PARTITION], dict(r.headers)[HEADER_OFFSET]) for r in dead)
    assert len(origins) == len(poison), "a poison message is missing from the DLQ"
    # A twin is sent only by a consumer killed between the broker's acknowledgement and the ledger
    # write (docs/kafka.md): at most one per kill, carrying its original's offset header and value.
    twins = [origin for origin, count in origins.items() if count > 1]
    assert len(twins) <= KILLS and set(origins.values()) <= {1, 2}, origins.most_common(3)
    by_origin: dict[tuple[bytes, bytes], bytes] = {}
    for r in dead:
        origin = (dict(r.headers)[HEADER_PARTITION], dict(r.headers)[HEADER_OFFSET])
        assert by_origin.setdefault(origin, r.value) == r.value, f"a twin of {origin} differs"
    assert Counter(by_origin.values()) == Counter(poison)
    assert all(dict(r.headers)[HEADER_REASON] for r in dead)


async def test_a_redelivered_message_creates_no_second_row_or_workflow(
    kafka_run: KafkaRun, engine: Engine, temporal_server: TemporalDevServer
) -> None:
    """Messages without request_id: the id comes from topic/partition/offset, so a replay maps to it."""
    await kafka_run.create_topics()
    values = [
        json_bytes(create_message(f"r{i}.example.test", "192.0.2.5", kafka_run.account)) for i in range(20)
    ]
    await kafka_run.produce(values, keys=[f"key-{i}".encode() for i in range(20)])
    kafka_run.start_consumer("first")
    await kafka_run.until_rows(engine, 20)
    await kafka_run.until_caught_up()
    assert kafka_run.stop("first") == 0

    # Replay everything from the start with a new group: the same offsets, the same ids.
    kafka_run.env["KAFKA_GROUP_ID"] += "-replay"
    kafka_run.start_consumer("replay")
    await kafka_run.until_caught_up()
    assert kafka_run.stop("replay") == 0
    assert len(rows_for(engine, kafka_run.account)) == 20
    client = await Client.connect(temporal_server.address)
    assert len(await workflow_ids(client, kafka_run.account)) == 20
    with engine.connect() as conn:
        keys = conn.execute(
            text("SELECT message_key, source FROM dns_requests WHERE account_id = :a"),
            {"a": kafka_run.account},
        ).all()
    assert sorted(k for k, _ in keys) == sorted(f"key-{i}" for i in range(20))
    assert {s for _, s in keys} == {"kafka"}
    assert "duplicates=20" in kafka_run.log_text()


async def test_events_topic_carries_each_status_change_in_order_even_across_a_crash(
    kafka_run: KafkaRun, engine: Engine
) -> None:
    from datetime import UTC, datetime

    from temporalio.testing import ActivityEnvironment

    from activities.database import DatabaseActivities
    from dnsorch.contracts import LogStep

    await kafka_run.create_topics()
    # A publisher sends every unpublished event in the database to its own events topic: events an
    # earlier test's consumers were stopped before publishing would land on this run's topic.
    with engine.begin() as conn:
        conn.execute(text("UPDATE request_events SET published_at = now() WHERE published_at IS NULL"))
    request_id = str(uuid.uuid4())
    await kafka_run.produce(
        [json_bytes(create_message("ev.example.test", "192.0.2.9", kafka_run.account, request_id))]
    )
    kafka_run.start_consumer("c1")
    await kafka_run.until_rows(engine, 1)
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    await env.run(
        acts.record_step,
        LogStep(
            request_id=request_id,
            entry_id="e1",
            at=datetime.now(UTC),
            message="provisioning started",
            status="IN_PROGRESS",
        ),
    )
    assert len(await kafka_run.read_all(kafka_run.events_topic, expected=2, timeout=30)) >= 2

    kafka_run.kill("c1")  # the next status change commits while no publisher runs
    await env.run(
        acts.record_step,
        LogStep(
            request_id=request_id,
            entry_id="e2",
            at=datetime.now(UTC),
            message="record served",
            status="COMPLETED",
        ),
    )
    kafka_run.start_consumer("c2")
    events = await kafka_run.read_all(kafka_run.events_topic, expected=3, timeout=60)
    decoded = [json.loads(r.value) for r in events]
    assert {r.key for r in events} == {request_id.encode()}
    sequences = [e["sequence"] for e in decoded]
    assert sorted(set(sequences)) == [1, 2, 3]
    assert sequences == sorted(sequences), "events of one request arrived out of order"
    by_sequence = {e["sequence"]: e for e in decoded}
    assert [by_sequence[s]["status"] for s in (1, 2, 3)] == ["PENDING", "IN_PROGRESS", "COMPLETED"]
    assert by_sequence[3]["reason"] == "record served"
    assert all(e["request_id"] == request_id and e["timestamp"] for e in decoded)


async def test_a_message_naming_an_account_the_topic_does_not_act_for_is_dead_lettered(
    apache_run: KafkaRun, engine: Engine
) -> None:
    """KAFKA_REQUESTS_ACCOUNTS binds the topic (and so its writers) to accounts: naming another
    account, e.g. to escape an approval policy keyed on accounts, gets a dead letter and nothing else."""
    run = apache_run
    await run.create_topics()
    allowed = [json_bytes(create_message(f"ok{i}.example.test", "192.0.2.9", run.account)) for i in range(3)]
    elsewhere = json_bytes(create_message("other.example.test", "192.0.2.9", f"{run.account}-other"))
    await run.produce([allowed[0], elsewhere, *allowed[1:]])
    run.start_consumer("bound", KAFKA_REQUESTS_ACCOUNTS=f"{run.account},acct-unused")
    await run.until_rows(engine, 3)
    dead = await run.read_all(run.dlq_topic, expected=1)
    assert [r.value for r in dead] == [elsewhere]
    reason = dict(dead[0].headers)[HEADER_REASON].decode()
    assert f"account {run.account}-other may not be named on topic {run.requests_topic}" in reason
    assert run.stop("bound") == 0
    assert rows_for(engine, f"{run.account}-other") == []


async def test_a_message_for_a_name_another_account_owns_is_dead_lettered(
    apache_run: KafkaRun, engine: Engine
) -> None:
    """Kafka is no back door around ownership: the same refusal as the API's 409, as a dead letter."""
    run = apache_run
    owned = f"owned-{uuid.uuid4().hex[:6]}.example.test"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO name_owners (domain, account_id) VALUES (:d, 'acct-owner')"), {"d": owned}
        )
    await run.create_topics()
    takeover = json_bytes(create_message(owned, "203.0.113.66", run.account))
    await run.produce([takeover, json_bytes(create_message(f"free-{owned}", "192.0.2.9", run.account))])
    run.start_consumer("owners")
    await run.until_rows(engine, 1)
    dead = await run.read_all(run.dlq_topic, expected=1)
    assert [r.value for r in dead] == [takeover]
    assert f"{owned} belongs to another account" in dict(dead[0].headers)[HEADER_REASON].decode()
    assert run.stop("owners") == 0
