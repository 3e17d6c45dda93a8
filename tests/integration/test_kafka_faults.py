"""Kafka ingestion through faults: a consumer SIGKILLed beside another, PostgreSQL and Temporal down.

On Apache Kafka only: these are consumer-group behaviours (rebalance, commits after a kill), and a
new group on Tansu takes ≈23 s to form (83 s after a vanished member), which would make this file
minutes long while proving nothing more about dnsorch. Tansu's own path is covered by the ingest,
redelivery and events tests, which run on both brokers.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.client import Client

from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer
from dnsorch import migrate
from dnsorch.db import make_engine
from tests.fixtures.kafka_tools import KafkaRun, create_message, eventually, json_bytes, workflow_ids
from tests.fixtures.servers import free_port
from tests.integration.test_kafka_ingest import rows_for

pytestmark = pytest.mark.integration


def stream(run: KafkaRun, n: int, start: int = 0) -> tuple[list[bytes], set[str]]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    values = [
        json_bytes(create_message(f"f{start + i}.example.test", "192.0.2.44", run.account, request_id))
        for i, request_id in enumerate(ids)
    ]
    return values, set(ids)


async def all_zero_lag(run: KafkaRun) -> bool:
    return await run.committed_lag() == 0


async def test_partitions_of_a_killed_consumer_move_to_the_survivor(
    apache_kafka: Any, database_url: str, temporal_server: TemporalDevServer, engine: Engine, tmp_path: Path
) -> None:
    env = {
        "ENV": "test",
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_server.address,
        "TEMPORAL_TASK_QUEUE": f"ingest-only-{uuid.uuid4().hex[:6]}",
        "DNS_ZONES": "example.test",
    }
    run = KafkaRun(apache_kafka.bootstrap, env, tmp_path)
    try:
        await run.create_topics()
        first, first_ids = stream(run, 100)
        await run.produce(first)
        run.start_consumer("a")
        run.start_consumer("b")
        assert await eventually(lambda: len(rows_for(engine, run.account)) >= 30, timeout=90)
        run.kill("a")
        second, second_ids = stream(run, 100, start=100)
        await run.produce(second)
        expected = first_ids | second_ids
        assert await eventually(lambda: len(rows_for(engine, run.account)) >= len(expected), timeout=120)
        assert await eventually(lambda: all_zero_lag(run), timeout=60)
        assert run.stop("b") == 0
        assert sorted(rows_for(engine, run.account)) == sorted(expected)
        client = await Client.connect(temporal_server.address)
        ids = await eventually(lambda: _exactly(workflow_ids(client, run.account), len(expected)))
        assert ids and sorted(ids) == sorted(f"dns-request-{i}" for i in expected)
    finally:
        run.stop_all()


async def _exactly(ids: Any, n: int) -> list[str] | None:
    found = await ids
    return found if len(found) >= n else None


@pytest.mark.parametrize("outage", ["postgresql", "temporal"])
async def test_nothing_is_skipped_while_a_backing_service_is_down(
    outage: str, apache_kafka: Any, tmp_path: Path
) -> None:
    """Stop PostgreSQL or Temporal mid-stream: the consumer holds back, then catches up by itself."""
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
    }
    run = KafkaRun(apache_kafka.bootstrap, env, tmp_path, partitions=2)
    try:
        await run.create_topics()
        before, before_ids = stream(run, 30)
        await run.produce(before)
        run.start_consumer()
        assert await eventually(lambda: len(rows_for(engine, run.account)) == 30, timeout=90)

        (postgres if outage == "postgresql" else temporal).stop()
        during, during_ids = stream(run, 30, start=30)
        await run.produce(during)
        await asyncio.sleep(6)  # messages arrive while the service is down
        assert await run.committed_lag() > 0, "offsets advanced past requests that were not accepted"
        if outage == "postgresql":
            postgres.start()
        else:
            temporal.start()

        expected = before_ids | during_ids
        assert await eventually(lambda: len(rows_for(engine, run.account)) == 60, timeout=120)
        assert await eventually(lambda: all_zero_lag(run), timeout=60)
        assert sorted(rows_for(engine, run.account)) == sorted(expected)
        client = await Client.connect(temporal.address)
        ids = await eventually(lambda: _exactly(workflow_ids(client, run.account), 60), timeout=30)
        assert ids and sorted(ids) == sorted(f"dns-request-{i}" for i in expected)
    finally:
        run.stop_all()
        engine.dispose()
        temporal.stop()
        postgres.stop()
