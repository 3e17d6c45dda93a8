"""Kafka ingestion rate, produce → workflow started and row written, on Tansu and on Apache Kafka.

Starts its own PostgreSQL, Temporal dev server and brokers (no provisioning worker: this measures
ingestion, not playbooks), runs one `dnsorch consumer`, produces N valid messages and times until
every one has its row. Usage: python benchmarks/kafka_ingest_rate.py [-n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from devstack.kafka import TansuBroker, ensure_topics
from devstack.kafka_apache import ApacheKafkaBroker
from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer
from dnsorch import migrate
from dnsorch.store import make_engine
from tests.fixtures.servers import free_port


async def measure(bootstrap: str, pg_url: str, temporal: str, n: int, workdir: Path) -> float:
    tag = uuid.uuid4().hex[:8]
    topic, account = f"bench-{tag}", f"bench-{tag}"
    await ensure_topics(bootstrap, [topic, f"{topic}.dlq", f"{topic}.events"], 4)
    env = {
        **os.environ,
        "ENV": "test",
        "DATABASE_URL": pg_url,
        "TEMPORAL_ADDRESS": temporal,
        "TEMPORAL_TASK_QUEUE": "bench-no-worker",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_REQUESTS_TOPIC": topic,
        "KAFKA_DLQ_TOPIC": f"{topic}.dlq",
        "KAFKA_EVENTS_TOPIC": f"{topic}.events",
        "KAFKA_GROUP_ID": f"g-{tag}",
        "LOG_LEVEL": "WARNING",
        "WORKER_METRICS_PORT": "0",
        "CONSUMER_METRICS_PORT": "0",
    }
    log = open(workdir / f"consumer-{tag}.log", "wb")  # noqa: ASYNC230
    consumer = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "dnsorch.cli", "consumer"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    engine = make_engine(pg_url)
    try:
        await asyncio.sleep(8)  # let the consumer join its group before the clock starts
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        started = time.perf_counter()
        for i in range(n):
            body = {
                "request_id": str(uuid.uuid4()),
                "context": {"account_id": account},
                "resource": {"record_type": "A", "domain": f"b{i}.example.test", "target": "192.0.2.1"},
            }
            await producer.send(topic, json.dumps(body).encode())
        await producer.flush()
        await producer.stop()
        while True:
            with engine.connect() as conn:
                done = conn.execute(
                    text("SELECT count(*) FROM dns_requests WHERE account_id = :a"), {"a": account}
                ).scalar_one()
            if done >= n:
                return time.perf_counter() - started
            await asyncio.sleep(0.1)
    finally:
        consumer.terminate()
        consumer.wait(30)
        engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=300)
    n = parser.parse_args().n
    work = Path(tempfile.mkdtemp(prefix="dnsorch-bench-"))
    pg = LocalPostgres(work / "pg", port=free_port())
    temporal = TemporalDevServer(work / "t.db", free_port(), free_port(), log_file=work / "t.log")
    pg.start()
    temporal.start()
    migrate.upgrade(pg.url())
    rates = {}
    try:
        for kind in ("tansu", "apache"):
            if kind == "tansu":
                broker = TansuBroker(port=free_port(), log_file=work / "tansu.log")
            else:
                broker = ApacheKafkaBroker(work / "kafka", port=free_port(), log_file=work / "kafka.log")
            broker.start()
            try:
                seconds = await measure(broker.bootstrap, pg.url(), temporal.address, n, work)
            finally:
                broker.stop()
            rates[kind] = n / seconds
            print(f"{kind:>7}: {n} messages accepted in {seconds:.2f}s = {rates[kind]:.1f} msg/s")
    finally:
        temporal.stop()
        pg.stop()
    print(f"  ratio: Apache Kafka / Tansu = {rates['apache'] / rates['tansu']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
