"""The shrinker end to end on files and processes: it reads a failing run's directory, runs each try
as a process of its own (here a stand-in for `soak.run` that fails on two operations), and writes
the shortest failing schedule where `soak.run --schedule` replays it. A real try is a whole soak."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from soak import schedule
from soak.faults import Fault
from soak.generator import Op
from soak.schedule import Plan
from soak.shrink import main

STAND_IN = """
import argparse, json, pathlib, sys
parser = argparse.ArgumentParser()
parser.add_argument("--schedule"); parser.add_argument("--out"); parser.add_argument("--settle")
args = parser.parse_args()
plan = json.loads(pathlib.Path(args.schedule).read_text())
out = pathlib.Path(args.out)
(out / "pg").mkdir(parents=True, exist_ok=True)
failing = {5, 9} <= {op["op"] for op in plan["ops"]} and plan["ops"][0]["at"] == 1.0
violations = [{"check": "dns", "message": "stand-in", "evidence": []}] if failing else []
(out / "report.json").write_text(json.dumps({"violations": violations}))
sys.exit(1 if failing else 0)
"""


def test_a_failing_run_shrinks_to_a_schedule_file_that_replays(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ops = [Op(i, 20.0 + i, "submit", {"door": "v2", "n": i}) for i in range(16)]
    schedule.save(Plan(11, 3.0, "tansu", ops, [Fault(25.0, "kill_api", 1.0)]), run_dir / "schedule.json")
    (run_dir / "report.json").write_text(json.dumps({"violations": [{"check": "dns"}, {"check": "drift"}]}))
    stand_in = tmp_path / "stand_in.py"
    stand_in.write_text(STAND_IN)

    code = main([str(run_dir), "--max-tries", "40"], command=[sys.executable, str(stand_in)])

    assert code == 0
    shrunk = schedule.load(run_dir / "shrunk.json")
    assert [op.index for op in shrunk.ops] == [5, 9]
    assert [op.at for op in shrunk.ops] == [1.0, 5.0]  # moved earlier, spacing kept
    assert shrunk.faults == [] and shrunk.seed == 11 and "check dns" in shrunk.note
    tries = sorted((run_dir / "shrink").glob("try-*.json"))
    assert tries and not any((run_dir / "shrink" / t.stem / "pg").exists() for t in tries)


def test_without_a_report_the_check_must_be_named(tmp_path: Path) -> None:
    schedule.save(Plan(1, 3.0, "tansu", [Op(0, 1.0, "submit", {})]), tmp_path / "schedule.json")
    assert main([str(tmp_path)], command=[sys.executable, "-c", "raise SystemExit(3)"]) == 2
