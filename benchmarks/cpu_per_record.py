"""CPU per provisioned record, per process: what `make bench` prints first.

Usage: python benchmarks/cpu_per_record.py [-n 200] [-c 50] [--shapes bare,ptr] [--profile DIR]
Starts its own PostgreSQL, Temporal, BIND with its Knot secondary (where knotd is installed), an API
and a worker (free ports, a temporary state dir; no Kafka). Then:
1. a few creates one at a time, each alone in the system: records/s of one request alone;
2. per shape, N creates through API v2, C in flight: `bare` (no reverse zone for the addresses) and
   `ptr` (addresses in the managed 2.0.192.in-addr.arpa, so each A record keeps a PTR).
For a burst it reads each process tree's CPU seconds from /proc before and after (benchmarks/cpu.py;
the worker's reaped ansible-playbook runs and PostgreSQL's exited backends included) and prints them
per record, with records/s, the ratio to one request alone and accept p50/p95/p99. Final statuses
are read from PostgreSQL directly, so waiting for them costs the API nothing. CPU-seconds are far
steadier than wall time on a shared machine: compare those first.
`--profile DIR` also runs py-spy on the worker (with its subprocesses) and the API during each burst
(raw collapsed stacks, for flame graphs or grep); its own overhead then inflates the figures a little.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import httpx
import psycopg2
from sqlalchemy.engine import make_url

from benchmarks.cpu import CpuMeter
from dnsorch.contracts import UNFINISHED_STATUSES

REVERSE_ZONE = "2.0.192.in-addr.arpa"
SHAPE_NETWORKS = {"bare": "198.51.100", "ptr": "192.0.2", "alone": "203.0.113"}
"""Where each shape's addresses come from: only 192.0.2.0/24 has a managed reverse zone."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class Statuses:
    """Final statuses read from PostgreSQL by one poller, so waiting costs the API nothing."""

    def __init__(self, dsn: dict[str, Any], interval: float) -> None:
        self.dsn, self.interval = dsn, interval
        self.waiting: dict[str, asyncio.Future[str]] = {}

    def _read(self, ids: list[str]) -> dict[str, str]:
        with psycopg2.connect(**self.dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT id::text, status FROM dns_requests WHERE id::text = ANY(%s)", (ids,))
            return dict(cur.fetchall())

    def unfinished(self) -> int:
        """Rows of any request still under way (the PTR requests the creates started included)."""
        with psycopg2.connect(**self.dsn) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM dns_requests WHERE status = ANY(%s)", (list(UNFINISHED_STATUSES),)
            )
            return int(cur.fetchone()[0])

    def transactions(self) -> int:
        """Transactions PostgreSQL has counted in this database so far (committed and rolled back)."""
        with psycopg2.connect(**self.dsn) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
            return int(cur.fetchone()[0])

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                if self.waiting:
                    found = await asyncio.to_thread(self._read, list(self.waiting))
                    for request_id, status in found.items():
                        if status not in UNFINISHED_STATUSES:
                            self.waiting.pop(request_id).set_result(status)
                await asyncio.sleep(self.interval)
        except Exception as error:  # PostgreSQL gone: fail the run rather than wait for ever
            for future in self.waiting.values():
                future.set_exception(error)
            raise

    async def final(self, request_id: str) -> str:
        future = self.waiting[request_id] = asyncio.get_running_loop().create_future()
        return await future

    async def settle(self) -> None:
        async with asyncio.timeout(300):
            while True:
                if not await asyncio.to_thread(self.unfinished):
                    return
                await asyncio.sleep(self.interval)


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
    http: httpx.AsyncClient, statuses: Statuses, bodies: list[dict[str, Any]], in_flight: int
) -> tuple[list[float], float, list[str]]:
    """Every body POSTed, `in_flight` requests unfinished at a time; accept latencies, wall, outcomes."""
    gate = asyncio.Semaphore(in_flight)
    accept: list[float] = []
    outcomes: list[str] = []

    async def one(body: dict[str, Any]) -> None:
        async with gate:
            started = time.perf_counter()
            answer = await http.post("/api/v2/dns/requests", json=body)
            answer.raise_for_status()
            accept.append(time.perf_counter() - started)
            outcomes.append(await statuses.final(answer.json()["request_id"]))

    started = time.perf_counter()
    await asyncio.gather(*(one(body) for body in bodies))
    await statuses.settle()
    return accept, time.perf_counter() - started, outcomes


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


async def run_shape(shape: str, ctx: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    label = f"{shape}{uuid.uuid4().hex[:4]}"
    bodies = [create_body(label, i, SHAPE_NETWORKS[shape]) for i in range(args.n)]
    meter = CpuMeter(ctx["pids"])
    profilers = start_profilers(args.profile, ctx["pids"], shape) if args.profile else []
    cache_before = cache_counters(ctx["metrics_url"])
    transactions_before = ctx["statuses"].transactions()
    meter.start()
    try:
        accept, wall, outcomes = await burst(ctx["http"], ctx["statuses"], bodies, args.c)
    finally:
        cpu = meter.stop()
        worker_own = meter.own("worker") if "worker" in ctx["pids"] else 0.0
        stop_profilers(profilers)
    cache_after = cache_counters(ctx["metrics_url"])
    await asyncio.sleep(1.5)  # backends report their counts to the statistics within a second
    transactions = ctx["statuses"].transactions() - transactions_before
    gauges = {name for name in cache_after if name.endswith("sticky_cache_size")}
    cache = {
        name: value if name in gauges else value - cache_before.get(name, 0.0)
        for name, value in cache_after.items()
    }
    not_served = sum(1 for i in range(args.n) if not served(args.dns_port, f"{label}-{i}.example.test"))
    rate = args.n / wall
    return {
        "shape": shape,
        "records": args.n,
        "in_flight": args.c,
        "completed": outcomes.count("COMPLETED"),
        "not_served": not_served,
        "wall_seconds": wall,
        "records_per_second": rate,
        "ratio_to_alone": rate / ctx["alone_rate"],
        "accept_p50_ms": 1000 * percentile(accept, 0.50),
        "accept_p95_ms": 1000 * percentile(accept, 0.95),
        "accept_p99_ms": 1000 * percentile(accept, 0.99),
        "cpu_seconds": cpu,
        "cpu_ms_per_record": {name: 1000 * seconds / args.n for name, seconds in cpu.items()}
        | {"total": 1000 * sum(cpu.values()) / args.n},
        "worker_own_ms_per_record": 1000 * worker_own / args.n,
        "workflow_cache": {k: v for k, v in cache.items() if "batch_changes" not in k},
        "playbook_runs": sum(v for k, v in cache.items() if k.endswith("batch_changes_count")),
        "postgresql_transactions_per_record": transactions / args.n,
        "profiled": bool(args.profile),
    }


async def alone_rate(http: httpx.AsyncClient, statuses: Statuses, count: int) -> tuple[float, list[float]]:
    """Records/s of one create with nothing else in the system: POST to final status, the median of
    `count` run one after another (the first also warms the worker up)."""
    label = f"alone{uuid.uuid4().hex[:4]}"
    latencies = []
    for i in range(count):
        started = time.perf_counter()
        answer = await http.post("/api/v2/dns/requests", json=create_body(label, i, SHAPE_NETWORKS["alone"]))
        answer.raise_for_status()
        status = await statuses.final(answer.json()["request_id"])
        assert status == "COMPLETED", status
        latencies.append(time.perf_counter() - started)
    return 1 / statistics.median(latencies[1:] or latencies), latencies


def server_pids(stack: Any) -> dict[str, int]:
    pids = {"temporal": stack.temporal.proc.pid}
    pids["postgresql"] = int((stack.postgres.datadir / "postmaster.pid").read_text().splitlines()[0])
    if stack.bind is not None and stack.bind.pid is not None:
        pids["bind"] = stack.bind.pid
    if stack.knot is not None and stack.knot.pid is not None:
        pids["knot"] = stack.knot.pid
    return pids


def print_report(report: dict[str, Any]) -> None:
    print(
        f"one request alone: {report['alone_records_per_second']:.2f} records/s "
        f"(POST to COMPLETED: {', '.join(f'{s:.2f}' for s in report['alone_latencies_s'])} s)"
    )
    for shape in report["shapes"]:
        print(
            f"\n{shape['shape']}: {shape['records_per_second']:.2f} records/s, ratio to alone "
            f"{shape['ratio_to_alone']:.1f}x ({shape['records']} creates, {shape['in_flight']} in flight, "
            f"{shape['completed']} COMPLETED, {shape['not_served']} not served, "
            f"{shape['wall_seconds']:.0f} s); "
            f"accept p50/p95/p99 {shape['accept_p50_ms']:.0f}/{shape['accept_p95_ms']:.0f}/"
            f"{shape['accept_p99_ms']:.0f} ms{' (under py-spy)' if shape['profiled'] else ''}"
        )
        print(f"  {'process':<12}{'CPU s':>8}{'ms/record':>11}")
        for name, seconds in shape["cpu_seconds"].items():
            print(f"  {name:<12}{seconds:>8.1f}{shape['cpu_ms_per_record'][name]:>11.1f}")
        total = sum(shape["cpu_seconds"].values())
        print(f"  {'total':<12}{total:>8.1f}{shape['cpu_ms_per_record']['total']:>11.1f}")
        runs = shape["playbook_runs"]
        print(
            f"  worker's own Python {shape['worker_own_ms_per_record']:.1f} ms/record; its playbook runs "
            f"{shape['cpu_ms_per_record']['worker'] - shape['worker_own_ms_per_record']:.1f} ms/record, "
            f"{runs:g} runs ({shape['records'] / runs if runs else 0:.1f} records per run)"
        )
        print(
            f"  PostgreSQL transactions per record: {shape['postgresql_transactions_per_record']:.1f} "
            "(the status poller's included)"
        )
        print(
            "  worker's workflow cache: "
            + ", ".join(f"{k} {v:g}" for k, v in shape["workflow_cache"].items())
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("-c", type=int, default=50)
    parser.add_argument("--shapes", default="bare,ptr", help="bursts to run, in order: bare, ptr")
    parser.add_argument("--alone", type=int, default=4, help="creates run one at a time first")
    parser.add_argument("--profile", type=Path, help="write py-spy profiles of worker and API here")
    parser.add_argument("--json", type=Path, default=Path(".dnsorch/bench-cpu.json"))
    parser.add_argument("--log-level", default="WARNING", help="of the roles")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the roles (repeatable)")
    args = parser.parse_args()
    shapes = [shape.strip() for shape in args.shapes.split(",") if shape.strip()]
    state = Path(tempfile.mkdtemp(prefix="dnsorch-bench-", dir="/tmp"))
    args.dns_port, api_port, metrics_port = free_port(), free_port(), free_port()
    database_url = f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/dnsorch"
    os.environ.update(
        {
            "STATE_DIR": str(state),
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "TEMPORAL_UI_PORT": str(free_port()),
            "DNS_PORT": str(args.dns_port),
            "API_PORT": str(api_port),
            "DEV_KAFKA": "none",
            "DNS_ZONES": f"example.test,{REVERSE_ZONE}",
            "WORKER_METRICS_PORT": str(metrics_port),
            "DRIFT_INTERVAL_SECONDS": "0",
            "API_RATE_PER_SECOND": "100000",
            "API_RATE_BURST": "100000",
            "LOG_LEVEL": args.log_level,
            **dict(item.split("=", 1) for item in args.env),
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
    try:
        env = stack.start_servers()
        stack.start_role("worker", env)
        stack.start_role("api", env)
        wait_for_port("127.0.0.1", api_port, 60, stack.children[-1][1])
        pids = {"worker": stack.children[0][1].pid, "api": stack.children[1][1].pid, **server_pids(stack)}
        key = settings.dev_api_key_path.read_text().strip()
        poller = asyncio.create_task(statuses.run(stop))
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{api_port}", timeout=120, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            rate, latencies = await alone_rate(http, statuses, args.alone)
            statuses.interval = 0.25  # a burst's requests take seconds each: a coarser poll will do
            ctx = {
                "http": http,
                "statuses": statuses,
                "pids": pids,
                "alone_rate": rate,
                "metrics_url": f"http://127.0.0.1:{metrics_port}/metrics",
            }
            results = [await run_shape(shape, ctx, args) for shape in shapes]
        stop.set()
        await poller
    finally:
        stop.set()
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    report = {"alone_records_per_second": rate, "alone_latencies_s": latencies, "shapes": results}
    print_report(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
