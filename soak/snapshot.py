"""The code a soak's roles run: one copy taken at start, so every restart runs the same version.

A role the soak kills starts again from source, minutes into the run. Run from the working tree, a
restart ran whatever the tree held by then: seen with SEED=101, a consumer restarted after a
kill_consumer loaded a model whose column (`expires_at`) a migration newer than the soak's database
added, and died at every start. One run, one version of the code.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CODE = (
    *("activities", "api", "consumer", "dnsorch", "worker", "workflows", "migrations", "playbooks"),
    *("env", ".env", "alembic.ini"),
)
"""What the roles run, copied at start (snapshot_code); `.env` when a developer has one."""


def snapshot_code(code: Path, rev: str | None = None) -> None:
    """Copy the product's code into `code`: the working tree as it is now, or commit `rev`."""
    if code.exists():
        shutil.rmtree(code)
    if rev is not None:
        export_revision(code, rev)
        return
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in CODE:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, code / name, ignore=skip)
        elif source.is_file():
            shutil.copy2(source, code / name)


def export_revision(code: Path, rev: str) -> None:
    """`git archive` of a commit (`--code HEAD`): the committed code, whatever the tree holds."""
    listed = subprocess.run(
        ["git", "ls-tree", "--name-only", rev], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout.split()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "--", *[n for n in CODE if n in listed]],
        cwd=PROJECT,
        capture_output=True,
        check=True,
    ).stdout
    code.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(code, filter="data")


def migrate(code: Path, database_url: str) -> None:
    """The snapshot's migrations (`dnsorch migrate`), so the schema is the one its code expects."""
    done = subprocess.run(
        [sys.executable, "-m", "dnsorch.cli", "migrate"],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code), "ENV": "test", "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the snapshot's migrations failed: {done.stderr[-2000:]}")
