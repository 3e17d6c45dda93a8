"""A CI-size soak: one small seeded schedule with faults and hand changes, on the soak's own stack.

`make soak` runs 1,000 requests for minutes; this runs 40, two faults and a few changes made by hand
(PostgreSQL stopped, BIND restarted) so that every invariant of soak/checker.py is checked on each
`make test`. The soak starts its own servers and roles (soak/stack.py) and shares nothing with the
session's, so it has an xdist group of its own. Tansu, not Apache Kafka: no second JVM beside the
Kafka group's, and a broker that starts in a second. SOAK_SMALL_SEED replays another seed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psutil
import pytest

from soak.run import make_plan, parse_args, run

pytestmark = [pytest.mark.e2e, pytest.mark.fault, pytest.mark.xdist_group("soak")]

SEED = int(os.environ.get("SOAK_SMALL_SEED") or 10)
"""Seed 10 at N=40: 8 operator actions (rollback, cancel, fail, retry…), a transfer, 4 scheduled hand
changes (skipped where dnsorch keeps nothing by then), PostgreSQL stopped then BIND restarted; and
three time-aware stories (soak/timed.py): a TTL dance and two expiring records, both extended. They
end within the schedule's own tail of operator sweeps: the run's time is as before (≈33 s from the
stack's start to the checker, with or without them)."""
N = 40
FAULTS = 2
RATE = 6.0
"""Submissions per second: twice `make soak`'s 3, so the 40 submissions (and the faults spread over
them) take 5 s instead of 10; the operator actions, hand changes and sweeps that follow are the same."""
RUNS = Path(__file__).resolve().parents[2] / ".dnsorch" / "soak"
"""Where `make soak` keeps its runs. Not pytest's tmp_path: a pytest starting anywhere on the machine
resets /tmp/pytest-of-<user> to 0700, and PostgreSQL (its own system user) restarted by a fault
could no longer reach its data directory (PITFALLS.md: keep the data dir under a project folder)."""


def soak_argv(out: Path) -> list[str]:
    """The same arguments `python -m soak.run` takes, so a failure replays from the command line."""
    schedule = [
        *("--seed", str(SEED), "-n", str(N), "--faults", str(FAULTS), "--rate", str(RATE)),
        *("--kafka", "tansu"),
    ]
    # Settling takes 0-20 s here; 60 s bounds a run that never settles (a stuck request) near 3 min.
    return [*schedule, "--settle", "60", "--out", str(out)]


def left_running(root: Path, children_before: set[int]) -> list[str]:
    """Processes the soak started that outlive it: the test's new children (the roles) and any
    process whose command line names the run directory (pg_ctl daemonises PostgreSQL)."""
    me = psutil.Process()
    found = {p.pid: p for p in me.children(recursive=True) if p.pid not in children_before}
    for process in psutil.process_iter(["cmdline"]):
        if str(root) in " ".join(process.info["cmdline"] or ()):
            found[process.pid] = process
    alive = []
    for pid, process in found.items():
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {' '.join(process.cmdline())[:160]}")
        except psutil.NoSuchProcess:
            continue
    return alive


REGRESSIONS = sorted((Path(__file__).resolve().parents[2] / "soak" / "regressions").glob("*.json"))
"""Failing soak schedules, shrunk and kept: each must now pass (soak/regressions/)."""


def assert_soak_passes(argv: list[str], replay: str, out: Path) -> None:
    """Run the soak `argv` describes; fail with the replay command and each violation's evidence."""
    args = parse_args(argv)
    plan = make_plan(args)
    children_before = {p.pid for p in psutil.Process().children(recursive=True)}
    try:
        report, code = run(plan, args, out)
    finally:
        leftovers = left_running(out.resolve(), children_before)
    assert not leftovers, f"{replay}; the soak left processes running: {leftovers}"
    assert report is not None, f"{replay}; the soak could not run (exit {code}), logs in {out / 'logs'}"
    violations = "\n".join(
        f"[{v.check}] {v.message}\n" + "\n".join(f"    {line}" for line in v.evidence[:20])
        for v in report.violations
    )
    assert not report.violations, (
        f"{replay}; {len(report.violations)} violation(s), history in {out / 'history.jsonl'}:\n{violations}"
    )
    shutil.rmtree(out, ignore_errors=True)  # a failing run keeps its directory, for the replay


@pytest.mark.timeout(300)
def test_small_seeded_soak_keeps_every_invariant() -> None:
    RUNS.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f"test-small-{SEED}-", dir=RUNS))
    argv = soak_argv(out)
    plan = make_plan(parse_args(argv))
    assert plan.submits == N and len(plan.faults) == FAULTS
    replay = f"SEED={SEED}: replay with `PYTHONPATH=. .venv/bin/python -m soak.run {' '.join(argv[:10])}`"
    assert_soak_passes(argv, replay, out)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("schedule", REGRESSIONS, ids=lambda path: path.stem)
def test_a_shrunk_failing_schedule_passes_now(schedule: Path) -> None:
    RUNS.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f"test-{schedule.stem}-", dir=RUNS))
    argv = ["--schedule", str(schedule), "--kafka", "tansu", "--settle", "60", "--out", str(out)]
    replay = f"replay with `PYTHONPATH=. .venv/bin/python -m soak.run --schedule {schedule}`"
    assert_soak_passes(argv, replay, out)
