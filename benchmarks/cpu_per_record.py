"""CPU per provisioned record, per process: what `make bench` prints first.

Usage: python benchmarks/cpu_per_record.py [-n 200] [-c 50] [--shapes bare,ptr] [--profile DIR]
       [--temporal dev|server] [--env NAME=VALUE]...
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
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.cpu import CpuMeter, RssTrail
from benchmarks.cpu_driver import (
    SHAPE_NETWORKS,
    Bench,
    Statuses,
    burst,
    cache_counters,
    create_body,
    percentile,
    running_stack,
    served,
    start_profilers,
    stop_profilers,
)
from benchmarks.history_shape import history_shape
from benchmarks.targets import target_lines


async def run_shape(shape: str, bench: Bench, alone: float, args: argparse.Namespace) -> dict[str, Any]:
    """One burst of `args.n` creates of `shape`, `args.c` in flight, and its figures."""
    label = f"{shape}{uuid.uuid4().hex[:4]}"
    bodies = [create_body(label, i, SHAPE_NETWORKS[shape]) for i in range(args.n)]
    meter = CpuMeter(bench.pids)
    profilers = start_profilers(args.profile, bench.pids, shape) if args.profile else []
    cache_before = cache_counters(bench.metrics_url)
    transactions_before = bench.statuses.transactions()
    rss = RssTrail(bench.pids["worker"], every=max(1, args.n // 20))
    meter.start()
    try:
        accept, wall, outcomes, ids = await burst(bench.http, bench.statuses, bodies, args.c, rss.finished)
    finally:
        cpu = meter.stop()
        worker_own = meter.own("worker") if "worker" in bench.pids else 0.0
        stop_profilers(profilers)
    cache_after = cache_counters(bench.metrics_url)
    await asyncio.sleep(1.5)  # backends report their counts to the statistics within a second
    transactions = bench.statuses.transactions() - transactions_before
    gauges = {name for name in cache_after if name.endswith("sticky_cache_size")}
    cache = {
        name: value if name in gauges else value - cache_before.get(name, 0.0)
        for name, value in cache_after.items()
    }
    shape_of_history = await history_shape(*bench.temporal, ids[:: max(1, len(ids) // 20)])
    not_served = sum(1 for i in range(args.n) if not served(bench.dns_port, f"{label}-{i}.example.test"))
    rate = args.n / wall
    return {
        "shape": shape,
        "records": args.n,
        "in_flight": args.c,
        "completed": outcomes.count("COMPLETED"),
        "not_served": not_served,
        "wall_seconds": wall,
        "records_per_second": rate,
        "ratio_to_alone": rate / alone,
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
        "history_per_request": shape_of_history,
        "worker_rss_mib": rss.points,
        "worker_rss_growth_mib_per_1000": rss.growth_per_thousand(),
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
            "  a request's workflow history (mean of 20): "
            + ", ".join(f"{name} {count:.1f}" for name, count in shape["history_per_request"].items())
        )
        trail = shape["worker_rss_mib"]
        print(
            f"  worker's RSS: {trail[0][1]:.0f} MiB after the first record, {trail[-1][1]:.0f} MiB after "
            f"{trail[-1][0]}; {shape['worker_rss_growth_mib_per_1000']:+.1f} MiB per 1,000 records after "
            "the first tenth"
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
    parser.add_argument(
        "--temporal", choices=("dev", "server"), default="dev", help="dev server or the production one"
    )
    parser.add_argument("--log-level", default="WARNING", help="of the roles")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the roles (repeatable)")
    args = parser.parse_args()
    shapes = [shape.strip() for shape in args.shapes.split(",") if shape.strip()]
    async with running_stack(args.log_level, args.env, args.temporal) as bench:
        rate, latencies = await alone_rate(bench.http, bench.statuses, args.alone)
        bench.statuses.interval = 0.25  # a burst's requests take seconds each: a coarser poll will do
        results = [await run_shape(shape, bench, rate, args) for shape in shapes]
    report = {"alone_records_per_second": rate, "alone_latencies_s": latencies, "shapes": results}
    print_report(report)
    held = next((shape for shape in results if shape["shape"] == "ptr"), results[-1] if results else None)
    if held is not None:
        print("\n" + "\n".join(target_lines(held)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
