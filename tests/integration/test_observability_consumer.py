"""`dnsorch consumer`'s metrics endpoint on a real broker (Tansu), PostgreSQL and Temporal: the
ingest figures of a stream with a duplicate and a poison message, per-partition lag that drains to
zero, and a restarted consumer that reports no phantom lag before its first commit."""

from __future__ import annotations

import json
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from devstack.temporal import TemporalDevServer
from tests.fixtures.kafka_tools import KafkaRun, create_message, ingest_only_env, json_bytes
from tests.fixtures.servers import free_port
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

Figures = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Figures:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}  # not up yet
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def lags(figures: Figures) -> dict[str, float]:
    return {
        dict(labels)["partition"]: v
        for (name, labels), v in figures.items()
        if name == "dnsorch_kafka_consumer_lag"
    }


@pytest.fixture
def kafka_run(
    tansu_broker: Any, database_url: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> Any:
    env = ingest_only_env(
        database_url, temporal_server.address, tmp_path, "metrics-only"
    )  # no worker: ingestion only
    run = KafkaRun(tansu_broker.bootstrap, env, tmp_path)
    try:
        yield run
    finally:
        run.stop_all()


async def test_consumer_metrics_count_the_stream_and_lag_drains_to_zero(kafka_run: KafkaRun) -> None:
    await kafka_run.create_topics()
    first = json_bytes(create_message("m1.example.test", "192.0.2.1", kafka_run.account, str(uuid.uuid4())))
    second = json_bytes(create_message("m2.example.test", "192.0.2.2", kafka_run.account, str(uuid.uuid4())))
    poison = json.dumps({"context": {"account_id": kafka_run.account}}).encode()
    await kafka_run.produce([first, second, first, poison])

    port = free_port()
    kafka_run.start_consumer("c1", CONSUMER_METRICS_PORT=str(port))

    def drained(figures: Figures) -> bool:
        consumed = figures.get(("dnsorch_kafka_consumed_total", ()), 0)
        return consumed >= 4 and bool(lags(figures)) and not any(lags(figures).values())

    figures = await eventually(
        lambda: scrape(port),
        drained,
        timeout=90,
        what="all 4 consumed and every lag 0",
        explain=kafka_run.log_tail,
    )
    assert figures[("dnsorch_kafka_consumed_total", ())] == 4
    assert figures[("dnsorch_kafka_accepted_total", ())] == 2
    assert figures[("dnsorch_kafka_duplicates_total", ())] == 1
    assert figures[("dnsorch_kafka_dead_lettered_total", ())] == 1
    assert figures[("dnsorch_kafka_retries_total", ())] == 0
    assert set(lags(figures)) == {"0", "1", "2", "3"}  # every partition of the topic, by label
    await eventually(
        lambda: scrape(port).get(("dnsorch_events_published_total", ()), 0),
        lambda published: published >= 2,
        timeout=30,
        what="2 events published",
    )
    assert kafka_run.stop("c1") == 0

    # A new consumer knows the group's committed offsets before it commits anything itself.
    port = free_port()
    kafka_run.start_consumer("c2", CONSUMER_METRICS_PORT=str(port))
    figures = await eventually(
        lambda: scrape(port),
        lambda seen: len(lags(seen)) == 4,
        timeout=60,
        what="a lag for each partition",
        explain=kafka_run.log_tail,
    )
    assert lags(figures) == {"0": 0, "1": 0, "2": 0, "3": 0}
    assert figures[("dnsorch_kafka_consumed_total", ())] == 0
