"""Batched apply, measured: N creates through API v2, first with batching off, then on, in ONE run.

Usage: python benchmarks/batching.py [-n 500] [-c 50] [--json out.json]
Starts its own PostgreSQL, Temporal and BIND (free ports, a temporary state dir) and an API; for
each mode a worker with BATCH_ENABLED=false/true. Prints, per mode: records/s from the first POST to
the last COMPLETED (every name checked on BIND), accept p50/p95/p99, workflow tasks per request
(counted from recorded histories) and the peak RSS of worker and API; then the ratio on/off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import httpx
import psutil
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from benchmarks.cpu_driver import percentile
from devstack.ports import free_port
from dnsorch.contracts import WorkflowState


class Peak:
    """Peak RSS of a process, sampled every 0.2 s while the run lasts."""

    def __init__(self, pid: int) -> None:
        self.process, self.peak = psutil.Process(pid), 0

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(0.2)


async def burst(
    api: str, key: str, temporal: str, n: int, in_flight: int, label: str
) -> tuple[list[float], float, list[str], list[str]]:
    """`n` creates, `in_flight` at a time, each awaited until its workflow has COMPLETED (a
    long-poll on Temporal, so the benchmark does not load the API with status polls)."""
    client = await Client.connect(temporal)
    gate = asyncio.Semaphore(in_flight)
    accept: list[float] = []
    ids: list[str] = []
    names: list[str] = []
    async with httpx.AsyncClient(
        base_url=api, timeout=120, headers={"Authorization": f"Bearer {key}"}
    ) as http:

        async def one(i: int) -> None:
            body: dict[str, Any] = {
                "operation": "create",
                "context": {"account_id": "bench"},
                "resource": {
                    "record_type": "A",
                    "domain": f"{label}-{i}.example.test",
                    "target": f"192.0.2.{1 + i % 254}",  # its own address, so its own PTR (--ptr)
                },
            }
            async with gate:
                started = time.perf_counter()
                answer = await http.post("/api/v2/dns/requests", json=body)
                answer.raise_for_status()
                accept.append(time.perf_counter() - started)
                request_id = answer.json()["request_id"]
                ids.append(request_id)
                names.append(body["resource"]["domain"])
                handle = client.get_workflow_handle(f"dns-request-{request_id}", result_type=WorkflowState)
                state = await handle.result()
                assert state.status == "COMPLETED", state

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return accept, time.perf_counter() - started, ids, names


def served(port: int, name: str) -> bool:
    response = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), "127.0.0.1", port=port, timeout=2)
    return any(rrset.rdtype == dns.rdatatype.A for rrset in response.answer)


async def tasks_per_request(address: str, names: list[str], ids: list[str]) -> tuple[float, float]:
    """Workflow tasks and activity tasks of each request's workflow, plus its name lock's where it
    has one (only workflows from before lean-request do), counted from the histories of 20 requests."""
    client = await Client.connect(address)
    workflow_tasks, activity_tasks = [], []
    for name, request_id in list(zip(names, ids, strict=True))[:20]:
        wft = act = 0
        for workflow_id in (f"dns-request-{request_id}", f"dns-name-lock-{name}"):
            try:
                events = (await client.get_workflow_handle(workflow_id).fetch_history()).events
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    continue
                raise
            wft += sum(1 for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
            act += sum(1 for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        workflow_tasks.append(wft)
        activity_tasks.append(act)
    return statistics.mean(workflow_tasks), statistics.mean(activity_tasks)


async def run_mode(stack: Any, env: dict[str, str], api_pid: int, args: argparse.Namespace, on: bool) -> dict:
    stack.start_role("worker", {**env, "BATCH_ENABLED": "true" if on else "false"})
    worker = stack.children[-1][1]
    await asyncio.sleep(3)
    stop = asyncio.Event()
    peaks = [Peak(worker.pid), Peak(api_pid)]
    watchers = [asyncio.create_task(p.watch(stop)) for p in peaks]
    label = f"{'on' if on else 'off'}{uuid.uuid4().hex[:4]}"
    accept, wall, ids, names = await burst(args.api, args.key, env["TEMPORAL_ADDRESS"], args.n, args.c, label)
    stop.set()
    await asyncio.gather(*watchers)
    missing = [i for i in range(args.n) if not served(args.dns_port, f"{label}-{i}.example.test")]
    tasks, activities = await tasks_per_request(env["TEMPORAL_ADDRESS"], names, ids)
    worker.terminate()
    worker.wait(60)
    stack.children.pop()
    return {
        "batching": on,
        "records": args.n,
        "in_flight": args.c,
        "not_served": len(missing),
        "records_per_second": args.n / wall,
        "accept_p50_ms": 1000 * percentile(accept, 0.50),
        "accept_p95_ms": 1000 * percentile(accept, 0.95),
        "accept_p99_ms": 1000 * percentile(accept, 0.99),
        "workflow_tasks_per_request": tasks,
        "activity_tasks_per_request": activities,
        "worker_peak_rss_mb": peaks[0].peak / 2**20,
        "api_peak_rss_mb": peaks[1].peak / 2**20,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("-c", type=int, default=50)
    parser.add_argument("--json", type=Path, default=Path(".dnsorch/bench-batching.json"))
    parser.add_argument("--modes", default="off,on", help="which modes to run, in order")
    parser.add_argument("--log-level", default="WARNING", help="of the roles (INFO shows each batch)")
    parser.add_argument("--ptr", action="store_true", help="manage 2.0.192.in-addr.arpa: A records keep PTRs")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="dnsorch-bench-", dir="/tmp"))
    args.dns_port, api_port = free_port(), free_port()
    os.environ.update(
        {
            "STATE_DIR": str(state),
            "DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/dnsorch",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "TEMPORAL_UI_PORT": str(free_port()),
            "DNS_PORT": str(args.dns_port),
            "API_PORT": str(api_port),
            "DEV_KAFKA": "none",
            "DNS_ZONES": "example.test,2.0.192.in-addr.arpa" if args.ptr else "example.test",
            "WORKER_METRICS_PORT": "0",
            "API_RATE_PER_SECOND": "100000",
            "API_RATE_BURST": "100000",
            "LOG_LEVEL": args.log_level,
        }
    )
    from devstack.stack import DevStack
    from devstack.temporal import wait_for_port
    from dnsorch.settings import Settings

    settings = Settings()
    stack = DevStack(settings)
    try:
        env = stack.start_servers()
        stack.start_role("api", env)
        api = stack.children[-1][1]
        wait_for_port("127.0.0.1", api_port, 60, api)
        args.api, args.key = f"http://127.0.0.1:{api_port}", settings.dev_api_key_path.read_text().strip()
        modes = [mode.strip() == "on" for mode in args.modes.split(",")]
        results = [await run_mode(stack, env, api.pid, args, on) for on in modes]
    finally:
        stack.stop()
    report: dict[str, Any] = {("on" if r["batching"] else "off"): r for r in results}
    if "on" in report and "off" in report:
        report["ratio_on_off"] = report["on"]["records_per_second"] / report["off"]["records_per_second"]
    for mode in results:
        print(
            f"batching {'on ' if mode['batching'] else 'off'}: {mode['records_per_second']:6.2f} records/s "
            f"({mode['records']} creates, {mode['in_flight']} in flight, {mode['not_served']} not served); "
            f"accept p50/p95/p99 {mode['accept_p50_ms']:.0f}/{mode['accept_p95_ms']:.0f}/"
            f"{mode['accept_p99_ms']:.0f} ms; "
            f"{mode['workflow_tasks_per_request']:.1f} workflow tasks and "
            f"{mode['activity_tasks_per_request']:.1f} activity tasks/request; "
            f"peak RSS worker {mode['worker_peak_rss_mb']:.0f} MB, API {mode['api_peak_rss_mb']:.0f} MB"
        )
    if "ratio_on_off" in report:
        print(f"ratio on/off: {report['ratio_on_off']:.1f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"written to {args.json}")


if __name__ == "__main__":
    asyncio.run(main())
