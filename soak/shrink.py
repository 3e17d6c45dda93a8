"""Shrink a failing soak to the shortest schedule that still fails the same check (delta debugging).

    PYTHONPATH=. .venv/bin/python -m soak.shrink RUN_DIR [--check NAME] [--max-tries 12] [--out FILE]

RUN_DIR is a failing run's directory: its schedule (schedule.json, or history.jsonl for an older
run) and its report.json, whose first violation names the check to keep failing (or --check). A
schedule file works too, with --check. The shortest failing schedule goes to RUN_DIR/shrunk.json
(rewritten after every success, so an interrupted shrink keeps its best) and replays with
`python -m soak.run --schedule RUN_DIR/shrunk.json`.

Each try is a whole `soak.run` on a fresh stack, minutes long, and timing differs from run to run:
a try that passes may only have been lucky. So shrinking is slow and approximate; --max-tries caps
it. Steps, each kept only when the run still fails that check:
1. drop every fault;
2. delta debugging over the operations: drop one of n chunks, the last first (n = 2 keeps a half),
   n halving back after a success and doubling when no chunk can go, down to single operations;
3. drop the faults left, one at a time.
A kept schedule is moved earlier in time so that its first operation comes after a second.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from soak import schedule
from soak.faults import Fault
from soak.generator import Op
from soak.schedule import Plan

PROJECT = Path(__file__).resolve().parent.parent
SOAK = [sys.executable, "-m", "soak.run"]
HEAVY = ("pg", "temporal", "bind", "knot", "kafka", "state")
"""A try's server data, removed after it: the history, report, logs and schedule stay."""

Fails = Callable[[list[Op], list[Fault]], bool]


@dataclass
class Shrunk:
    ops: list[Op]
    faults: list[Fault]
    tries: int = 0


def shrink(
    ops: list[Op],
    faults: list[Fault],
    fails: Fails,
    max_tries: int,
    kept: Callable[[Shrunk], None] = lambda _s: None,
) -> Shrunk:
    """The smallest (ops, faults) found within `max_tries` calls of `fails` that still fails;
    `kept` hears of every smaller one as it is found."""
    best = Shrunk(list(ops), list(faults))

    def attempt(ops: list[Op], faults: list[Fault]) -> bool:
        if best.tries >= max_tries:
            return False
        best.tries += 1
        if not fails(ops, faults):
            return False
        best.ops, best.faults = ops, faults
        kept(best)
        return True

    if best.faults:
        attempt(best.ops, [])
    n = 2
    while len(best.ops) >= 2 and best.tries < max_tries:
        chunks = split(best.ops, n)
        for i in reversed(range(len(chunks))):
            if attempt([op for j, chunk in enumerate(chunks) if j != i for op in chunk], best.faults):
                n = max(n // 2, 2)
                break
        else:
            if n >= len(best.ops):
                break
            n = min(n * 2, len(best.ops))
    for fault in list(best.faults):
        attempt(best.ops, [f for f in best.faults if f is not fault])
    return best


def split(items: Sequence[Op], n: int) -> list[list[Op]]:
    """`items` in `n` consecutive chunks of near-equal size (none empty)."""
    n = min(n, len(items))
    size, extra = divmod(len(items), n)
    chunks, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        chunks.append(list(items[start:end]))
        start = end
    return chunks


def compact(plan: Plan, lead: float = 1.0) -> Plan:
    """The plan moved earlier so that its first operation is at `lead` seconds (faults with it)."""
    if not plan.ops:
        return plan
    shift = max(0.0, min(op.at for op in plan.ops) - lead)
    ops = [replace(op, at=round(op.at - shift, 3)) for op in plan.ops]
    faults = [replace(f, at=round(max(0.0, f.at - shift), 3)) for f in plan.faults]
    return replace(plan, ops=ops, faults=faults)


class SoakRunner:
    """A try: the candidate written as a schedule file and run by `soak.run` in a process of its own;
    it fails when its report names the check."""

    def __init__(
        self, base: Plan, check: str, work: Path, settle: float, command: Sequence[str] = tuple(SOAK)
    ) -> None:
        self.base, self.check, self.work, self.settle = base, check, work, settle
        self.command = list(command)
        self.count = 0

    def __call__(self, ops: list[Op], faults: list[Fault]) -> bool:
        self.count += 1
        plan = compact(replace(self.base, ops=ops, faults=faults, note=f"shrink try {self.count}"))
        path, out = self.work / f"try-{self.count}.json", self.work / f"try-{self.count}"
        schedule.save(plan, path)
        cmd = [*self.command, "--schedule", str(path), "--out", str(out), "--settle", str(self.settle)]
        began = time.monotonic()
        out.mkdir(parents=True, exist_ok=True)
        with (out / "soak.log").open("wb") as log:
            proc = subprocess.Popen(cmd, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT)
            try:
                code = proc.wait()
            except KeyboardInterrupt:  # the soak stops its stack on SIGTERM
                proc.terminate()
                proc.wait()
                raise
        checks = violated_checks(out / "report.json")
        for sub in HEAVY:
            shutil.rmtree(out / sub, ignore_errors=True)
        failed = self.check in checks
        print(
            f"shrink: try {self.count}: {plan.submits} submissions, {len(ops)} ops, {len(faults)} faults "
            f"→ {'FAILS ' + self.check if failed else 'passes' if code == 0 else f'exit {code}'} "
            f"{sorted(checks) if checks else ''} ({time.monotonic() - began:.0f}s, {out})",
            flush=True,
        )
        return failed


def violated_checks(report: Path) -> set[str]:
    """The checks a run's report.json names (none when the run wrote no report)."""
    if not report.exists():
        return set()
    return {v["check"] for v in json.loads(report.read_text())["violations"]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="soak.shrink", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a failing run's directory, or a schedule file")
    parser.add_argument(
        "--check", default=None, help="the check that must keep failing (default: the run's first)"
    )
    parser.add_argument("--max-tries", type=int, default=12, help="whole soak runs at most (default 12)")
    parser.add_argument("--out", type=Path, default=None, help="default: RUN_DIR/shrunk.json")
    parser.add_argument("--settle", type=float, default=240.0, help="each try's --settle (default 240)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, command: Sequence[str] = tuple(SOAK)) -> int:
    args = parse_args(argv)
    source: Path = args.source.resolve()
    run_dir = source if source.is_dir() else source.parent
    check = args.check or first_check(run_dir / "report.json")
    if check is None:
        print(f"shrink: no --check given and {run_dir / 'report.json'} names no violation", file=sys.stderr)
        return 2
    plan = schedule.load(source)
    out = args.out or run_dir / "shrunk.json"
    runner = SoakRunner(plan, check, run_dir / "shrink", args.settle, command)
    print(f"shrink: {len(plan.ops)} ops, {len(plan.faults)} faults, keeping check {check!r}", flush=True)

    def keep(best: Shrunk) -> None:
        note = f"shrunk from {source} (check {check}) after {best.tries} tries"
        schedule.save(compact(replace(plan, ops=best.ops, faults=best.faults, note=note)), out)

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        best = shrink(plan.ops, plan.faults, runner, args.max_tries, keep)
    except KeyboardInterrupt:
        print(f"shrink: interrupted; the best so far is in {out}" if out.exists() else "shrink: interrupted")
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    if len(best.ops) == len(plan.ops) and len(best.faults) == len(plan.faults):
        print(f"shrink: nothing smaller failed {check!r} in {best.tries} tries", flush=True)
        return 1
    print(
        f"shrink: {len(best.ops)} ops and {len(best.faults)} faults still fail {check!r} "
        f"({best.tries} tries); replay with `python -m soak.run --schedule {out}`",
        flush=True,
    )
    return 0


def first_check(report: Path) -> str | None:
    if not report.exists():
        return None
    violations = json.loads(report.read_text())["violations"]
    return str(violations[0]["check"]) if violations else None


if __name__ == "__main__":
    sys.exit(main())
