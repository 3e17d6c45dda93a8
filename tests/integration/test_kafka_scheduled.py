"""Scheduled changes through Kafka (issue 26): a message may carry `not_before`, as a v2 body does;
it is accepted with its time (the workflow waits in SCHEDULED), and a time the accept path refuses
(no UTC offset, passed, over 366 days ahead) is a dead letter whose reason names the field.

Real Apache Kafka, PostgreSQL and Temporal; no provisioning worker polls the task queue."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client

from consumer.dead_letter import HEADER_REASON
from devstack.temporal import TemporalDevServer
from tests.fixtures.kafka_tools import KafkaRun, create_message, ingest_only_env, json_bytes

pytestmark = pytest.mark.integration


@pytest.fixture
def run(apache_kafka: Any, database_url: str, temporal_server: TemporalDevServer, tmp_path: Path) -> Any:
    env = ingest_only_env(database_url, temporal_server.address, tmp_path)
    kafka_run = KafkaRun(apache_kafka.bootstrap, env, tmp_path)
    try:
        yield kafka_run
    finally:
        kafka_run.stop_all()


def scheduled(run: KafkaRun, label: str, when: str) -> bytes:
    message = create_message(f"{label}-{uuid.uuid4().hex[:6]}.example.test", "192.0.2.44", run.account)
    return json_bytes({**message, "request_id": str(uuid.uuid4()), "not_before": when})


async def test_a_message_with_not_before_is_accepted_scheduled_and_bad_times_are_dead_letters(
    run: KafkaRun, engine: Engine, temporal_server: TemporalDevServer
) -> None:
    due = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    good = scheduled(run, "sched", due.isoformat())
    refused = {
        "no-offset": (scheduled(run, "naive", "2030-01-01T10:00:00"), "needs a UTC offset"),
        "passed": (scheduled(run, "past", "2020-01-01T10:00:00Z"), "has passed"),
        "too-far": (
            scheduled(run, "far", (datetime.now(UTC) + timedelta(days=400)).isoformat()),
            "days ahead",
        ),
        "no-time": (scheduled(run, "garbage", "next tuesday"), "wrong schema: not_before"),
    }
    await run.create_topics()
    await run.produce([good, *(value for value, _ in refused.values())])
    run.start_consumer("scheduled")
    [row_id] = await run.until_rows(engine, 1)
    dead = await run.read_all(run.dlq_topic, expected=len(refused))
    reasons = {record.value: dict(record.headers)[HEADER_REASON].decode() for record in dead}
    for value, reason in refused.values():
        assert "not_before" in reasons[value] and reason in reasons[value], reasons[value]
    assert run.stop("scheduled") == 0
    with engine.connect() as conn:
        config = conn.execute(
            text("SELECT config FROM dns_requests WHERE id = :i"), {"i": row_id}
        ).scalar_one()
    assert datetime.fromisoformat(config["not_before"]) == due
    client = await Client.connect(temporal_server.address)
    started = await client.get_workflow_handle(f"dns-request-{row_id}").fetch_history()
    first = started.events[0].workflow_execution_started_event_attributes
    assert due.isoformat().replace("+00:00", "") in first.input.payloads[0].data.decode()


async def test_a_scheduled_message_redelivered_after_its_time_is_the_request_it_made(
    run: KafkaRun, engine: Engine
) -> None:
    """A consumer that dies before its commit reads the message again, maybe after `not_before`
    has passed: that is the request already accepted, not a dead letter."""
    due = datetime.now(UTC) + timedelta(seconds=4)
    value = scheduled(run, "redelivered", due.isoformat())
    await run.create_topics()
    await run.produce([value])
    run.start_consumer("first")
    [row_id] = await run.until_rows(engine, 1)
    await run.until_caught_up()
    assert run.stop("first") == 0
    while datetime.now(UTC) <= due:
        await asyncio.sleep(0.5)
    run.env["KAFKA_GROUP_ID"] += "-again"  # another group reads it again, as after a lost commit
    run.start_consumer("again")
    await run.until_caught_up()
    assert run.stop("again") == 0
    assert await run.read_all(run.dlq_topic, expected=0, timeout=3) == []
    assert await run.until_rows(engine, 1) == [row_id]
