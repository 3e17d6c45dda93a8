"""Run directories (which may hold a copy of the worker's environment) never outlive their worker."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from activities.ansible import AnsibleActivities
from dnsorch.settings import Settings


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def make_run_dir(runs: Path, pid: int, name: str) -> Path:
    run_dir = runs / f"w{pid}-req-a1-{name}"
    (run_dir / "artifacts").mkdir(parents=True)
    (run_dir / "artifacts" / "command").write_text("env copy")
    return run_dir


def test_sweep_at_start_up_removes_dirs_of_dead_workers_and_keeps_other_live_ones(tmp_path: Path) -> None:
    runs = tmp_path / "ansible-runs"
    orphan = make_run_dir(runs, dead_pid(), "x")
    other_live_worker = make_run_dir(runs, os.getppid(), "y")
    # A restarted container gets the same pid as its previous incarnation: ours cannot be live yet.
    previous_incarnation = make_run_dir(runs, os.getpid(), "z")

    removed = AnsibleActivities(Settings(state_dir=tmp_path)).sweep_orphaned_run_dirs()

    assert removed == 2
    assert not orphan.exists()
    assert not previous_incarnation.exists()
    assert other_live_worker.exists()


def test_sweep_without_a_runs_dir_does_nothing(tmp_path: Path) -> None:
    assert AnsibleActivities(Settings(state_dir=tmp_path)).sweep_orphaned_run_dirs() == 0
