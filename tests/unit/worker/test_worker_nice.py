"""WORKER_NICE: the worker lowers its own priority before it starts a thread or a playbook, so every
thread and child inherits it; accepting, on the same machine, then gets the CPU first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import worker.main as worker_main
from dnsorch.settings import Settings


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    monkeypatch.setattr(worker_main.os, "nice", lambda increment: seen.append(("nice", increment)))

    def run(coroutine: Any) -> None:
        coroutine.close()
        seen.append(("run", None))

    monkeypatch.setattr(worker_main.asyncio, "run", run)
    return seen


def test_the_worker_lowers_its_priority_before_it_runs_anything(calls: list, tmp_path: Path) -> None:
    worker_main.main(Settings(env="test", state_dir=tmp_path, worker_nice=10))
    assert calls == [("nice", 10), ("run", None)]


def test_by_default_the_worker_keeps_its_priority(calls: list, tmp_path: Path) -> None:
    worker_main.main(Settings(env="test", state_dir=tmp_path))
    assert calls == [("run", None)]


@pytest.mark.parametrize("value", [-1, 20])
def test_a_niceness_outside_0_to_19_is_refused(value: int, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="worker_nice"):
        Settings(env="test", state_dir=tmp_path, worker_nice=value)
