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


def test_sweep_removes_dirs_of_dead_workers_and_keeps_live_ones(tmp_path: Path) -> None:
    runs = tmp_path / "ansible-runs"
    orphan = runs / f"w{dead_pid()}-req-a1-x"
    live = runs / f"w{os.getpid()}-req-a1-y"
    for run_dir in (orphan, live):
        (run_dir / "artifacts").mkdir(parents=True)
        (run_dir / "artifacts" / "command").write_text("env copy")

    removed = AnsibleActivities(Settings(state_dir=tmp_path)).sweep_orphaned_run_dirs()

    assert removed == 1
    assert not orphan.exists()
    assert live.exists()


def test_sweep_without_a_runs_dir_does_nothing(tmp_path: Path) -> None:
    assert AnsibleActivities(Settings(state_dir=tmp_path)).sweep_orphaned_run_dirs() == 0
