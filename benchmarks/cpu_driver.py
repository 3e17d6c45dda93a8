"""The stack `make bench` drives (benchmarks/cpu_per_record.py), and how it drives it.

A stack of its own on free ports in a temporary state dir: PostgreSQL, Temporal, BIND with its Knot
secondary (where knotd is installed), a worker and an API; no Kafka. Then: creates POSTed through
API v2 with so many in flight, their final statuses read from PostgreSQL by one poller (so waiting
costs the API nothing), the worker's workflow-cache figures, what BIND serves, and py-spy on the
worker and the API when asked.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import httpx
from sqlalchemy.engine import make_url

from benchmarks.bench_statuses import Statuses
from devstack.ports import free_port
from devstack.temporal_server import TemporalServer

REVERSE_ZONE = "2.0.192.in-addr.arpa"
SHAPE_NETWORKS = {"bare": "198.51.100", "ptr": "192.0.2", "alone": "203.0.113"}
"""Where each shape's addresses come from: only 192.0.2.0/24 has a managed reverse zone."""


def percentile(values: list[float], q: float) -> float:
    """The value at quantile `q` (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def create_body(label: str, i: int, network: str) -> dict[str, Any]:
    return {
        "operation": "create",
        "context": {"account_id": "bench"},
        "resource": {
            "record_type": "A",
            "domain": f"{label}-{i}.example.test",
            "target": f"{network}.{1 + i % 254}",
        },
    }


async def burst(
    http: httpx.AsyncClient,
    statuses: Statuses,
    bodies: list[dict[str, Any]],
    in_flight: int,
    finished: Callable[[int], None] = lambda records: None,
) -> tuple[list[float], float, list[str], list[str]]:
    """Every body POSTed, `in_flight` requests unfinished at a time; accept latencies, wall, outcomes,
    request ids.
    `finished` is told how many requests have finished each time one does."""
    gate = asyncio.Semaphore(in_flight)
    accept: list[float] = []
    outcomes: list[str] = []
    ids: list[str] = []

    async def one(body: dict[str, Any]) -> None:
        async with gate:
            started = time.perf_counter()
            answer = await http.post("/api/v2/dns/requests", json=body)
            answer.raise_for_status()
            accept.append(time.perf_counter() - started)
            ids.append(answer.json()["request_id"])
            outcomes.append(await statuses.final(ids[-1]))
            finished(len(outcomes))

    started = time.perf_counter()
    await asyncio.gather(*(one(body) for body in bodies))
    await statuses.settle()
    return accept, time.perf_counter() - started, outcomes, ids


def cache_counters(metrics_url: str) -> dict[str, float]:
    """The worker's workflow-cache figures (sticky cache hits, misses, evictions; replays), summed
    over their labels: a miss or a replay means a workflow instance was built again from history."""
    text = httpx.get(metrics_url, timeout=10).text
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not (
            "sticky_cache" in line or "replay" in line or "batch_changes" in line
        ):
            continue
        name, _, value = line.rpartition(" ")
        metric = name.split("{", 1)[0]
        if metric.endswith(("_bucket", "_sum")):
            continue
        totals[metric] = totals.get(metric, 0.0) + float(value)
    return totals


def served(port: int, name: str) -> bool:
    response = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), "127.0.0.1", port=port, timeout=2)
    return any(rrset.rdtype == dns.rdatatype.A for rrset in response.answer)


def start_profilers(out: Path, pids: dict[str, int], tag: str) -> list[subprocess.Popen[bytes]]:
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit(
            "--profile needs py-spy on PATH (pip install py-spy; it needs root or ptrace rights)"
        )
    out.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(pids[role]),
                "--format",
                "raw",
                "--rate",
                "50",
                "--nonblocking",
                "--gil",  # only threads holding the GIL: Python's CPU, not its waits
                "--output",
                str(out / f"{tag}-{role}.txt"),
                *(["--subprocesses"] if role == "worker" else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role in ("worker", "api")
    ]


def stop_profilers(profilers: Iterable[subprocess.Popen[bytes]]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    for profiler in profilers:
        try:
            profiler.wait(60)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait()


def server_pids(stack: Any, temporal: TemporalServer | None) -> dict[str, int]:
    process = (temporal or stack.temporal).proc
    assert process is not None
    pids = {"temporal": process.pid}
    pids["postgresql"] = int((stack.postgres.datadir / "postmaster.pid").read_text().splitlines()[0])
    if stack.bind is not None and stack.bind.pid is not None:
        pids["bind"] = stack.bind.pid
    if stack.knot is not None and stack.knot.pid is not None:
        pids["knot"] = stack.knot.pid
    return pids


@dataclass
class Bench:
    """The running stack, as a burst drives and measures it."""

    http: httpx.AsyncClient
    """The API, with the dev stack's key."""
    statuses: Statuses
    pids: dict[str, int]
    """Each measured process tree's root: worker, api and the servers."""
    metrics_url: str
    """The worker's Prometheus endpoint."""
    temporal: tuple[str, str]
    """Temporal's address and namespace."""
    dns_port: int
    """Where BIND serves the records."""


@asynccontextmanager
async def running_stack(log_level: str, env: list[str], temporal: str = "dev") -> AsyncIterator[Bench]:
    """Start the stack with the roles at `log_level` and `env` (NAME=VALUE) on top; stop it and
    remove its state on the way out. `temporal`: "dev", the dev server `make run` starts (SQLite), or
    "server", the production server built from source (devstack/temporal_server.py) on the stack's
    PostgreSQL, what compose deploys."""
    state = Path(tempfile.mkdtemp(prefix="dnsorch-bench-", dir="/tmp"))
    dns_port, api_port, metrics_port = free_port(), free_port(), free_port()
    database_url = f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/dnsorch"
    os.environ.update(
        {
            "STATE_DIR": str(state),
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "TEMPORAL_UI_PORT": str(free_port()),
            "DNS_PORT": str(dns_port),
            "API_PORT": str(api_port),
            "DEV_KAFKA": "none",
            "DNS_ZONES": f"example.test,{REVERSE_ZONE}",
            "WORKER_METRICS_PORT": str(metrics_port),
            "DRIFT_INTERVAL_SECONDS": "0",
            "API_RATE_PER_SECOND": "100000",
            "API_RATE_BURST": "100000",
            "LOG_LEVEL": log_level,
            "DEV_TEMPORAL": str(temporal == "dev").lower(),
            **dict(item.split("=", 1) for item in env),
        }
    )
    from devstack.stack import DevStack
    from devstack.temporal import wait_for_port
    from dnsorch.settings import Settings

    settings = Settings()
    stack = DevStack(settings)
    url = make_url(database_url)
    statuses = Statuses(
        {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}, interval=0.05
    )
    stop = asyncio.Event()
    server: TemporalServer | None = None
    try:
        stack_env = stack.start_servers()
        if temporal == "server":
            assert stack.postgres is not None
            server = TemporalServer(
                state / "temporal",
                stack.postgres.host,
                stack.postgres.port,
                int(settings.temporal_address.rpartition(":")[2]),
                log_file=state / "temporal.log",
            )
            await asyncio.to_thread(server.start)  # builds it first if this version is not built yet
        stack.start_role("worker", stack_env)
        stack.start_role("api", stack_env)
        wait_for_port("127.0.0.1", api_port, 60, stack.children[-1][1])
        pids = {
            "worker": stack.children[0][1].pid,
            "api": stack.children[1][1].pid,
            **server_pids(stack, server),
        }
        key = settings.dev_api_key_path.read_text().strip()
        poller = asyncio.create_task(statuses.run(stop))
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{api_port}", timeout=120, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            yield Bench(
                http,
                statuses,
                pids,
                f"http://127.0.0.1:{metrics_port}/metrics",
                (settings.temporal_address, settings.temporal_namespace),
                dns_port,
            )
        stop.set()
        await poller
    finally:
        stop.set()
        stack.stop()
        if server is not None:
            server.stop()
        shutil.rmtree(state, ignore_errors=True)
