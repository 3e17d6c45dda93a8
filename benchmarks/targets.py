"""Issue 24's targets, held against one burst's figures (benchmarks/cpu_per_record.py prints them
for the `ptr` shape, the `make run` one). Figures, not tests: a missed target is printed, not raised."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RSS_FLAT_MIB_PER_1000 = 2.0
"""Growth per 1,000 records (after the first tenth) below which the worker's memory counts as flat."""


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: Callable[[dict[str, Any]], float]
    met: Callable[[float], bool]
    unit: str


TARGETS = [
    Target(
        "CPU per record, all processes",
        "<= 110",
        lambda s: s["cpu_ms_per_record"]["total"],
        lambda v: v <= 110,
        "ms",
    ),
    Target(
        "CPU per record, worker with its playbooks",
        "<= 60",
        lambda s: s["cpu_ms_per_record"]["worker"],
        lambda v: v <= 60,
        "ms",
    ),
    Target("CPU per accept, API", "<= 5", lambda s: s["cpu_ms_per_record"]["api"], lambda v: v <= 5, "ms"),
    Target("records/s", ">= 15", lambda s: s["records_per_second"], lambda v: v >= 15, ""),
    Target("ratio to one request alone", ">= 20", lambda s: s["ratio_to_alone"], lambda v: v >= 20, "x"),
    Target("accept p99", "< 250", lambda s: s["accept_p99_ms"], lambda v: v < 250, "ms"),
    Target(
        "worker RSS growth per 1,000 records",
        f"<= {RSS_FLAT_MIB_PER_1000:g}",
        lambda s: s["worker_rss_growth_mib_per_1000"],
        lambda v: v <= RSS_FLAT_MIB_PER_1000,
        "MiB",
    ),
]


def target_lines(shape: dict[str, Any]) -> list[str]:
    """One line per target: its goal, this burst's figure, met or missed."""
    lines = [f"targets (shape {shape['shape']}, {shape['records']} records):"]
    for target in TARGETS:
        value = target.measured(shape)
        verdict = "met" if target.met(value) else "MISSED"
        lines.append(f"  {target.name:<44}{target.goal:>8} {target.unit:<4}{value:>9.1f}  {verdict}")
    if shape["records"] < 2000:
        lines.append("  (flat RSS is asked over 2,000 requests: run with -n 2000 for that figure)")
    return lines
