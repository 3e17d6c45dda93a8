"""Time from POST /api/v1/dns/create to COMPLETED on a running stack (`make run`), and throughput.

Usage: python benchmarks/provisioning_latency.py [--api http://127.0.0.1:8000] [-n 20] [-c 4]
Prints accept latency (POST answered) and end-to-end latency (COMPLETED seen), in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from pathlib import Path

import httpx


async def one(client: httpx.AsyncClient, index: int, run: str) -> tuple[float, float, str]:
    body = {
        "context": {"account_id": "bench", "source": "api"},
        "resource": {
            "record_type": "A",
            "domain": f"b{index}-{run}.example.test",
            "target": f"192.0.2.{index % 250 + 1}",
        },
    }
    started = time.perf_counter()
    response = await client.post("/api/v1/dns/create", json=body)
    response.raise_for_status()
    accepted = time.perf_counter() - started
    request_id = response.json()["request_id"]
    while True:
        polled = await client.get(f"/api/v1/dns/{request_id}")
        if polled.status_code == 429:  # over the key's rate: the dev stack's limit is generous
            await asyncio.sleep(float(polled.headers.get("Retry-After", "1")))
            continue
        polled.raise_for_status()
        status = polled.json()["status"]
        if status in ("COMPLETED", "FAILED"):
            return accepted, time.perf_counter() - started, status
        await asyncio.sleep(0.05)


def api_key() -> str:
    """$DNSORCH_API_KEY, else the admin key `make run` wrote."""
    key = os.environ.get("DNSORCH_API_KEY")
    if key:
        return key
    path = Path(__file__).resolve().parent.parent / ".dnsorch" / "dev-api-key"
    try:
        return path.read_text().strip()
    except OSError:
        raise SystemExit(
            f"no API key: set DNSORCH_API_KEY or start the stack (`make run` writes {path})"
        ) from None


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"{name:>22}: p50 {statistics.median(ordered):6.3f}s  p95 {p95:6.3f}s  max {ordered[-1]:6.3f}s"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("-n", type=int, default=20, help="requests")
    parser.add_argument("-c", type=int, default=4, help="requests in flight at once")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    gate = asyncio.Semaphore(args.c)

    headers = {"Authorization": f"Bearer {api_key()}"}
    async with httpx.AsyncClient(base_url=args.api, timeout=120, headers=headers) as client:

        async def limited(i: int) -> tuple[float, float, str]:
            async with gate:
                return await one(client, i, run)

        started = time.perf_counter()
        results = await asyncio.gather(*(limited(i) for i in range(args.n)))
        wall = time.perf_counter() - started

    failed = sum(1 for *_, status in results if status != "COMPLETED")
    print(f"{args.n} requests, {args.c} in flight, {failed} failed, wall {wall:.2f}s")
    print(summary("accept (POST answered)", [a for a, _, _ in results]))
    print(summary("POST -> COMPLETED", [e for _, e, _ in results]))
    print(f"{'throughput':>22}: {args.n / wall:.2f} records/s completed")
    accept_p50 = statistics.median(a for a, _, _ in results)
    done_p50 = statistics.median(e for _, e, _ in results)
    print(f"{'ratio':>22}: POST->COMPLETED p50 is {done_p50 / accept_p50:.0f}x the accept p50")


if __name__ == "__main__":
    asyncio.run(main())
