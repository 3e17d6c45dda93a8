"""Kafka ingestion through faults: a consumer SIGKILLed beside another, PostgreSQL and Temporal down.

On Apache Kafka only: these are consumer-group behaviours (rebalance, commits after a kill), and a
new group on Tansu takes ≈23 s to form (83 s after a vanished member), which would make this file
minutes long while proving nothing more about dnsorch. Tansu's own path is covered by the ingest,
redelivery and events tests, which run on both brokers.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client

from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer
from dnsorch import migrate
from dnsorch.store import make_engine
from tests.fixtures.kafka_tools import (
    KafkaRun,
    create_message,
    ingest_only_env,
    json_bytes,
    rows_for,
    until_workflows,
)
from tests.fixtures.servers import free_port
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration
HELD_BACK = " held back ("  # consumer/lanes.py's line for a message it could not accept yet


def stream(run: KafkaRun, n: int, start: int = 0) -> tuple[list[bytes], set[str]]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    values = [
        json_bytes(create_message(f"f{start + i}.example.test", "192.0.2.44", run.account, request_id))
        for i, request_id in enumerate(ids)
    ]
    return values, set(ids)


async def test_partitions_of_a_killed_consumer_move_to_the_survivor(
    apache_kafka: Any, database_url: str, temporal_server: TemporalDevServer, engine: Engine, tmp_path: Path
) -> None:
    env = ingest_only_env(database_url, temporal_server.address, tmp_path)
    run = KafkaRun(apache_kafka.bootstrap, env, tmp_path)
    try:
        await run.create_topics()
        first, first_ids = stream(run, 100)
        await run.produce(first)
        run.start_consumer("a")
        run.start_consumer("b")
        await run.until_rows(engine, 30, exact=False, timeout=90)
        run.kill("a")
        second, second_ids = stream(run, 100, start=100)
        await run.produce(second)
        expected = first_ids | second_ids
        await run.until_rows(engine, len(expected), exact=False, timeout=120)
        await run.until_caught_up()
        # The starts the killed consumer left queued: the survivor's sweep takes them.
        client = await Client.connect(temporal_server.address)
        ids = await until_workflows(client, run.account, len(expected))
        assert run.stop("b") == 0
        assert sorted(rows_for(engine, run.account)) == sorted(expected)
        assert sorted(ids) == sorted(f"dns-request-{i}" for i in expected)
    finally:
        run.stop_all()


@pytest.mark.parametrize("outage", ["postgresql", "temporal"])
async def test_nothing_is_skipped_while_a_backing_service_is_down(
    outage: str, apache_kafka: Any, tmp_path: Path
) -> None:
    """Stop PostgreSQL or Temporal mid-stream; every message becomes a request and a workflow.

    PostgreSQL down: the consumer holds back (nothing can be accepted), then catches up by itself.
    Temporal down: it goes on accepting and committing (a request is accepted once its row and
    queued start commit), and the sweep starts every queued workflow once Temporal is back.
    """
    postgres = LocalPostgres(tmp_path / "pg", port=free_port())
    temporal = TemporalDevServer(
        tmp_path / "temporal.db", free_port(), free_port(), log_file=tmp_path / "t.log"
    )
    postgres.start()
    temporal.start()
    migrate.upgrade(postgres.url())
    engine = make_engine(postgres.url())
    env = {
        "ENV": "test",
        "DATABASE_URL": postgres.url(),
        "TEMPORAL_ADDRESS": temporal.address,
        "TEMPORAL_TASK_QUEUE": "ingest-only",
        "DNS_ZONES": "example.test",
        "OUTBOX_SWEEP_SECONDS": "1",
        "OUTBOX_START_GRACE_SECONDS": "2",
    }
    run = KafkaRun(apache_kafka.bootstrap, env, tmp_path, partitions=2)
    try:
        await run.create_topics()
        before, before_ids = stream(run, 30)
        await run.produce(before)
        run.start_consumer()
        await run.until_rows(engine, 30, timeout=90)
        await run.until_caught_up()  # so any lag from here on is the outage's

        held_before = run.log_text().count(HELD_BACK)
        (postgres if outage == "postgresql" else temporal).stop()
        during, during_ids = stream(run, 30, start=30)
        await run.produce(during)
        if outage == "postgresql":
            # The consumer met the outage: it could not accept a message and holds it back.
            await eventually(
                run.log_text,
                lambda log: log.count(HELD_BACK) > held_before,
                timeout=60,
                what="the consumer holding a message back",
            )
            assert await run.committed_lag() > 0, "offsets advanced past requests that were not accepted"
            postgres.start()
        else:
            # Accepted and committed while Temporal is down; the starts wait in the outbox.
            await run.until_rows(engine, 60, timeout=90)
            await run.until_caught_up()
            assert run.log_text().count(HELD_BACK) == held_before
            assert queued_starts(engine) > 0, "no start waited for Temporal"
            temporal.start()

        expected = before_ids | during_ids
        await run.until_rows(engine, 60, timeout=120)
        await run.until_caught_up()
        assert sorted(rows_for(engine, run.account)) == sorted(expected)
        client = await Client.connect(temporal.address)
        ids = await until_workflows(client, run.account, 60, timeout=60)
        assert sorted(ids) == sorted(f"dns-request-{i}" for i in expected)
        await eventually(lambda: queued_starts(engine), lambda n: n == 0, timeout=30, what="an empty outbox")
    finally:
        run.stop_all()
        engine.dispose()
        temporal.stop()
        postgres.stop()


def queued_starts(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM workflow_starts")).scalar_one())
