"""Partitions accepted side by side (consumer/lanes.py), on real brokers, PostgreSQL and Temporal:
each name's requests are accepted in their offset order, a rebalance hands a partition over exactly
where its lane stopped, and a consumer killed mid-batch loses and doubles nothing.

No provisioning worker polls these task queues: the order checked is accept order, the order in
which name claims let requests change a name (created_at, then id: dnsorch/repository/name_claims.py).
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine, text
from temporalio.client import Client

from devstack.temporal import TemporalDevServer
from tests.fixtures.kafka_tools import (
    KafkaRun,
    create_message,
    ingest_only_env,
    json_bytes,
    rows_for,
    until_workflows,
)
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration
NAMES = [f"n{i}.example.test" for i in range(8)]
STOPPED = re.compile(r"consumer stopped: consumed=(\d+) accepted=(\d+) dead_lettered=(\d+) duplicates=(\d+)")
DRAINED = "lanes stopped after their group in hand and committed"  # consumer/lanes.py


@dataclass(frozen=True)
class Sent:
    name: str
    partition: int
    offset: int
    request_id: str


def _run(broker: Any, database_url: str, temporal_server: TemporalDevServer, tmp_path: Path) -> Any:
    env = ingest_only_env(database_url, temporal_server.address, tmp_path)
    run = KafkaRun(broker.bootstrap, env, tmp_path)
    try:
        yield run
    finally:
        run.stop_all()


@pytest.fixture
def kafka_run(
    kafka_broker: Any, database_url: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> Any:
    yield from _run(kafka_broker, database_url, temporal_server, tmp_path)


@pytest.fixture
def apache_run(
    apache_kafka: Any, database_url: str, temporal_server: TemporalDevServer, tmp_path: Path
) -> Any:
    """Apache Kafka for group changes: Tansu takes ≈23 s per join and 83 s after a killed member."""
    yield from _run(apache_kafka, database_url, temporal_server, tmp_path)


async def produce_keyed(run: KafkaRun, per_name: int) -> list[Sent]:
    """`per_name` requests for each name, keyed by the name, interleaved; where each one landed."""
    producer = AIOKafkaProducer(bootstrap_servers=run.bootstrap, acks="all")
    await producer.start()
    try:
        pending = []
        for i in range(per_name):
            for name in NAMES:
                request_id = str(uuid.uuid4())
                value = json_bytes(create_message(name, f"192.0.2.{i % 250 + 1}", run.account, request_id))
                future = await producer.send(run.requests_topic, value=value, key=name.encode())
                pending.append((name, request_id, future))
        sent = []
        for name, request_id, future in pending:
            metadata = await future
            sent.append(Sent(name, metadata.partition, metadata.offset, request_id))
        return sent
    finally:
        await producer.stop()


def accept_order(engine: Engine, account: str) -> list[tuple[str, str]]:
    """(domain, request id) of the account's requests in accept order."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT domain, id FROM dns_requests WHERE account_id = :a ORDER BY created_at, id"),
            {"a": account},
        ).all()
    return [(domain, str(request_id)) for domain, request_id in rows]


def assert_each_name_in_offset_order(engine: Engine, account: str, sent: list[Sent]) -> None:
    by_offset: dict[str, list[str]] = defaultdict(list)
    for s in sorted(sent, key=lambda s: (s.partition, s.offset)):
        by_offset[s.name].append(s.request_id)
    accepted: dict[str, list[str]] = defaultdict(list)
    for domain, request_id in accept_order(engine, account):
        accepted[domain].append(request_id)
    for name in NAMES:
        assert accepted[name] == by_offset[name], f"{name}: accept order is not its offset order"


def stopped_figures(run: KafkaRun, name: str) -> dict[str, int]:
    """The figures a consumer logs when it stops cleanly."""
    [line] = STOPPED.findall((run.log_dir / f"{name}.log").read_text(errors="replace"))
    return dict(zip(("consumed", "accepted", "dead_lettered", "duplicates"), map(int, line), strict=True))


async def test_each_names_requests_are_accepted_in_offset_order_while_partitions_run_side_by_side(
    kafka_run: KafkaRun, engine: Engine
) -> None:
    run = kafka_run
    await run.create_topics()
    sent = await produce_keyed(run, per_name=40)
    assert len({s.partition for s in sent}) >= 3, "the names should spread over the partitions"
    run.start_consumer("c1")
    await run.until_rows(engine, len(sent), timeout=120)
    await run.until_caught_up()
    assert run.stop("c1") == 0

    assert_each_name_in_offset_order(engine, run.account, sent)
    # Side by side: the partitions' groups (up to consumer.lanes.MAX_GROUP messages stored in one
    # transaction) interleave in accept order; one partition after another would make one block each.
    partition_of = {s.request_id: s.partition for s in sent}
    partitions = [partition_of[request_id] for _, request_id in accept_order(engine, run.account)]
    switches = sum(1 for a, b in pairwise(partitions) if a != b)
    assert switches >= len(set(partitions)), (
        f"partitions were accepted one after the other ({switches} switches)"
    )
    assert stopped_figures(run, "c1")["duplicates"] == 0


async def test_rebalances_mid_batch_accept_nothing_twice_and_a_kill_loses_and_doubles_nothing(
    apache_run: KafkaRun, engine: Engine, temporal_server: TemporalDevServer
) -> None:
    run = apache_run
    await run.create_topics()

    # 1. Handovers: c2 joins while c1 works through a backlog, then c1 stops while c2 does.
    #    Each revoked lane finishes its group in hand and commits before its partition moves,
    #    so nothing is redelivered: no duplicates at all.
    # A backlog c1 is still working through when c2 joins (c1 accepts a few hundred a second).
    sent = await produce_keyed(run, per_name=400)
    run.start_consumer("c1")
    await run.until_rows(engine, 10, exact=False, timeout=90)
    run.start_consumer("c2")
    await eventually(
        lambda: (run.log_dir / "c1.log").read_text(errors="replace"),
        lambda log: DRAINED in log,
        timeout=60,
        what="c1 stopping its lanes for the rebalance c2's join caused",
        explain=run.log_tail,
    )
    await run.until_rows(engine, len(sent) // 2, exact=False, timeout=90)
    assert run.stop("c1") == 0
    await run.until_rows(engine, len(sent), timeout=120)
    await run.until_caught_up()
    assert run.stop("c2") == 0
    figures = [stopped_figures(run, name) for name in ("c1", "c2")]
    assert sum(f["duplicates"] for f in figures) == 0, f"a message was handled twice: {figures}"
    assert sum(f["accepted"] for f in figures) == len(sent)

    # 2. A kill mid-batch: the next consumer starts at the last commit; redelivered messages start
    #    nothing new and keep the accept order they had.
    more = await produce_keyed(run, per_name=40)
    run.start_consumer("c3")
    await run.until_rows(engine, len(sent) + 60, exact=False, timeout=90)
    run.kill("c3")
    run.start_consumer("c4")
    everything = sent + more
    await run.until_rows(engine, len(everything), timeout=120)
    await run.until_caught_up()
    # The starts c3 left queued when it was killed: c4's sweep takes them. Accepting outruns the
    # dev server's workflow starts (tens a second here): the queued starts drain at that rate.
    client = await Client.connect(temporal_server.address)
    ids = await until_workflows(client, run.account, len(everything), timeout=300)
    assert run.stop("c4") == 0

    assert sorted(rows_for(engine, run.account)) == sorted(s.request_id for s in everything)
    assert sorted(ids) == sorted(f"dns-request-{s.request_id}" for s in everything)
    assert_each_name_in_offset_order(engine, run.account, everything)
