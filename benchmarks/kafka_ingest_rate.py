"""Kafka ingestion rate, produce → workflow started and row written, on Tansu and on Apache Kafka.

Starts its own PostgreSQL, Temporal dev server and brokers (no provisioning worker: this measures
ingestion, not playbooks), runs one `dnsorch consumer`, produces N valid messages and times until
every one has its row (its CPU is read until every workflow started). Just before each broker's
run it times N bare workflow starts (the gateway's start, as accept makes it, without Kafka or
PostgreSQL) with as many in flight as the consumer accepts at once (one per partition, at most
consumer.lanes.MAX_LANES): the ceiling ingestion is held against. CPU per message is read from
/proc for the consumer and the Temporal dev server.
Usage: python benchmarks/kafka_ingest_rate.py [-n 300] [-p 4] [--brokers tansu,apache] [--profile DIR]
(-p: the topic's partitions; --profile: py-spy records the consumer during each run, raw collapsed
stacks in DIR/<broker>-consumer.txt, and its own overhead inflates the figures a little)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from benchmarks.cpu import CpuMeter
from consumer.lanes import MAX_LANES
from devstack.kafka import TansuBroker, ensure_topics
from devstack.kafka_apache import ApacheKafkaBroker
from devstack.ports import free_port
from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer
from dnsorch import migrate
from dnsorch.contracts import ProvisioningInput
from dnsorch.requests import CreateDnsRequest, apply_policy, build_spec
from dnsorch.settings import Settings
from dnsorch.store import make_engine
from dnsorch.temporal import ProvisioningGateway, connect

PARTITIONS = 4
"""The topic's partitions by default: KAFKA_TOPIC_PARTITIONS' default, what `make run` creates."""


@dataclass
class Run:
    seconds: float
    """Until every message had its row (accepted)."""
    cpu_ms: dict[str, float]
    """CPU milliseconds per message, per process (the consumer, Temporal): until all were accepted,
    and until all had started."""
    started_seconds: float
    """Until every accepted request's workflow had started (its queued start gone)."""


_PROGRESS = text(
    "SELECT count(*), count(s.request_id) FROM dns_requests r"
    " LEFT JOIN workflow_starts s ON s.request_id = r.id WHERE r.account_id = :a"
)


def start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("--profile needs py-spy (pip install py-spy; it needs root or ptrace rights)")
    output.parent.mkdir(parents=True, exist_ok=True)
    where = ["--pid", str(pid), "--output", str(output)]
    # --gil: only threads holding the GIL, so Python's CPU and not its waits on PostgreSQL
    return subprocess.Popen(
        [py_spy, "record", *where, "--format", "raw", "--rate", "200", "--nonblocking", "--gil", "--threads"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profiler(profiler: subprocess.Popen[bytes]) -> None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        profiler.wait(60)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait()


async def measure(
    bootstrap: str,
    pg_url: str,
    temporal: TemporalDevServer,
    n: int,
    partitions: int,
    workdir: Path,
    profile: Path | None = None,
) -> Run:
    tag = uuid.uuid4().hex[:8]
    topic, account = f"bench-{tag}", f"bench-{tag}"
    await ensure_topics(bootstrap, [topic, f"{topic}.dlq", f"{topic}.events"], partitions)
    env = {
        **os.environ,
        "ENV": "test",
        "DATABASE_URL": pg_url,
        "TEMPORAL_ADDRESS": temporal.address,
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
    profiler = None
    try:
        await asyncio.sleep(8)  # let the consumer join its group before the clock starts
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        assert temporal.proc is not None
        cpu = CpuMeter({"consumer": consumer.pid, "temporal": temporal.proc.pid})
        profiler = start_profiler(consumer.pid, profile) if profile else None
        cpu.start()
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
        seconds, at_accept = None, {}
        while True:
            with engine.connect() as conn:
                done, queued = conn.execute(_PROGRESS, {"a": account}).one()
            if seconds is None and done >= n:
                seconds = time.perf_counter() - started
                at_accept = cpu.stop()
            if seconds is not None and queued == 0:
                # CPU until every workflow started too: the background starts are part of the cost.
                all_started = time.perf_counter() - started
                used = {f"{name} (to all started)": cpu_s for name, cpu_s in cpu.stop().items()}
                per_message = {name: 1000 * cpu_s / n for name, cpu_s in {**at_accept, **used}.items()}
                return Run(seconds, per_message, all_started)
            await asyncio.sleep(0.1)
    finally:
        if profiler is not None:
            stop_profiler(profiler)
        consumer.terminate()
        consumer.wait(30)
        engine.dispose()


async def raw_start_rate(address: str, n: int, in_flight: int, warm_up: int = 20) -> float:
    """Workflow starts per second through the gateway, `in_flight` at a time, nothing else (the
    first `warm_up` starts, which open the connection, are not timed)."""
    settings = Settings(temporal_address=address, dns_zones=["example.test"])
    gateway = ProvisioningGateway(await connect(settings), "bench-no-worker")
    tag = uuid.uuid4().hex[:8]
    inputs = []
    for i in range(warm_up + n):
        body = CreateDnsRequest.model_validate(
            {
                "context": {"account_id": f"raw-{tag}"},
                "resource": {"record_type": "A", "domain": f"r{i}.example.test", "target": "192.0.2.1"},
            }
        )
        spec = build_spec(body, settings.dns_zones, str(uuid.uuid4()), "kafka")
        inputs.append(ProvisioningInput(request=spec, policy=apply_policy(settings)))
    slots = asyncio.Semaphore(in_flight)

    async def start(params: ProvisioningInput) -> None:
        async with slots:
            await gateway.start(params)

    await asyncio.gather(*(start(params) for params in inputs[:warm_up]))
    started = time.perf_counter()
    await asyncio.gather(*(start(params) for params in inputs[warm_up:]))
    return n / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("-p", "--partitions", type=int, default=PARTITIONS)
    parser.add_argument("--brokers", default="tansu,apache", help="comma-separated: tansu, apache")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the consumer into this dir")
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.brokers.split(",") if kind.strip()]
    n, partitions = args.n, args.partitions
    work = Path(tempfile.mkdtemp(prefix="dnsorch-bench-"))
    pg = LocalPostgres(work / "pg", port=free_port())
    temporal = TemporalDevServer(work / "t.db", free_port(), free_port(), log_file=work / "t.log")
    pg.start()
    temporal.start()
    migrate.upgrade(pg.url())
    rates, ratios = {}, {}
    try:
        for kind in kinds:
            broker: TansuBroker | ApacheKafkaBroker
            if kind == "tansu":
                broker = TansuBroker(port=free_port(), log_file=work / "tansu.log")
            else:
                broker = ApacheKafkaBroker(work / "kafka", port=free_port(), log_file=work / "kafka.log")
            broker.start()
            try:
                in_flight = min(partitions, MAX_LANES)
                raw = await raw_start_rate(temporal.address, n, in_flight)
                profile = args.profile / f"{kind}-consumer.txt" if args.profile else None
                run = await measure(broker.bootstrap, pg.url(), temporal, n, partitions, work, profile)
            finally:
                broker.stop()
            rates[kind] = n / run.seconds
            ratios[kind] = rates[kind] / raw
            cpu = ", ".join(f"{name} {ms:.1f}" for name, ms in run.cpu_ms.items())
            print(
                f"{kind:>7}: {n} messages accepted in {run.seconds:.2f}s = {rates[kind]:.1f} msg/s;"
                f" raw starts just before ({in_flight} in flight) {raw:.1f}/s, ratio {ratios[kind]:.2f};"
                f" all started in {run.started_seconds:.2f}s; CPU ms per message: {cpu}"
            )
    finally:
        temporal.stop()
        pg.stop()
    if "apache" in rates and "tansu" in rates:
        print(f"  ratio: Apache Kafka / Tansu = {rates['apache'] / rates['tansu']:.2f}")
    if "apache" not in rates:
        return
    print("targets (issue 24):")
    for name, value, goal, met in (
        ("ingestion / raw starts, Apache Kafka", ratios["apache"], ">= 0.9", ratios["apache"] >= 0.9),
        ("msg/s on Apache Kafka", rates["apache"], ">= 200", rates["apache"] >= 200),
    ):
        print(f"  {name:<44}{goal:>8}     {value:>9.2f}  {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    asyncio.run(main())
