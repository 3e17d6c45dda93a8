"""A clean first `make run` logs no ERROR or WARNING line, except those listed here with a reason.

`dnsorch dev` runs as `make run` runs it, on a fresh state directory and free ports, once on Apache
Kafka (make run's default where a JDK 17+ is present) and once on Tansu (`make run KAFKA=tansu`).
The log checked is the whole run: start, the stack healthy, and Ctrl-C's stop.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.fixtures.dev_stack import DevStackProcess

pytestmark = pytest.mark.e2e

HEALTHY_WITHIN = 180.0  # seconds; ≈15 s here, the JVM's start and the roles' imports most of it
PROBLEM = re.compile(r"\b(WARN|WARNING|ERROR|CRITICAL|FATAL)\b|Traceback|\b\w+Warning: ")
"""A logging level of ours or of a server's, a traceback, or a Python warning printed raw."""


class Allowed(NamedTuple):
    line: re.Pattern[str]
    reason: str


ALLOWED: tuple[Allowed, ...] = ()
"""Lines a clean start may log at WARNING or above, each with its reason: none today."""


def problem_lines(lines: list[str]) -> list[str]:
    return [
        line
        for line in lines
        if PROBLEM.search(line) and not any(allowed.line.search(line) for allowed in ALLOWED)
    ]


@pytest.fixture(params=["auto", "tansu"], ids=["apache-kafka", "tansu"])
def first_run(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_libs_dir: Path
) -> Iterator[DevStackProcess]:
    """`make run` (DEV_KAFKA=auto: Apache Kafka, as Java is there) or `make run KAFKA=tansu`.

    The state starts empty and is removed afterwards; the log stays in `tmp_path`.
    """
    dev_kafka = str(request.param)
    for attempt in range(1, 4):
        state = Path(tempfile.mkdtemp(prefix="dnsorch-first-run-"))
        stack = DevStackProcess(
            state,
            tmp_path / f"make-run-{attempt}.log",
            dev_kafka,
            kafka_libs_dir=kafka_libs_dir if dev_kafka == "auto" else None,
        )
        try:
            stack.start()
            stack.wait_until_healthy(HEALTHY_WITHIN)
        except AssertionError as failed:
            stack.stop()
            shutil.rmtree(state, ignore_errors=True)
            # A free port picked for the stack can be taken by another process (the other xdist
            # worker) before the stack binds it: only that is worth another try, on new ports.
            if "is already in use" not in str(failed) or attempt == 3:
                raise
            continue
        break
    try:
        yield stack
    finally:
        try:
            stack.stop()
        finally:
            shutil.rmtree(state, ignore_errors=True)


def test_a_clean_first_start_logs_no_error_or_warning(first_run: DevStackProcess) -> None:
    first_run.wait_until_healthy(HEALTHY_WITHIN)
    assert first_run.stop() == 0, first_run.log_tail()
    lines = first_run.log_lines()
    broker = "Apache Kafka" if first_run.env["DEV_KAFKA"] == "auto" else "Tansu"
    assert any(f" dnsorch.dev [req -] Kafka: {broker} " in line for line in lines), first_run.log_tail()
    problems = problem_lines(lines)
    assert not problems, f"{len(problems)} ERROR/WARNING line(s) in {first_run.log_file}:\n" + "\n".join(
        problems
    )
