"""The worker-memory figure `make bench` prints: growth per 1,000 records after the warm-up."""

from __future__ import annotations

import os

from benchmarks.cpu import RssTrail
from benchmarks.targets import target_lines


def test_the_warm_up_is_left_out_of_the_growth() -> None:
    trail = RssTrail(pid=os.getpid(), every=100)
    trail.points = [(1, 100.0), (100, 150.0), (200, 160.0)] + [(r, 160.0) for r in range(300, 2100, 100)]
    assert trail.growth_per_thousand() == 0.0


def test_steady_growth_is_reported_per_thousand_records() -> None:
    trail = RssTrail(pid=os.getpid(), every=100)
    trail.points = [(r, 100.0 + r / 100) for r in range(100, 2100, 100)]  # 10 MiB per 1,000
    assert abs(trail.growth_per_thousand() - 10.0) < 1e-9


def test_a_trail_samples_the_first_record_and_every_nth() -> None:
    trail = RssTrail(pid=os.getpid(), every=10)
    for records in range(1, 31):
        trail.finished(records)
    assert [records for records, _ in trail.points] == [1, 10, 20, 30]
    assert all(rss > 0 for _, rss in trail.points)


def test_each_target_is_held_against_its_figure() -> None:
    shape = {
        "shape": "ptr",
        "records": 2000,
        "cpu_ms_per_record": {"total": 100.0, "worker": 70.0, "api": 4.0},
        "records_per_second": 16.0,
        "ratio_to_alone": 12.0,
        "accept_p99_ms": 240.0,
        "worker_rss_growth_mib_per_1000": 0.5,
    }
    verdicts = {line.split("  ")[1].strip(): line.rsplit(" ", 1)[-1] for line in target_lines(shape)[1:]}
    assert verdicts == {
        "CPU per record, all processes": "met",
        "CPU per record, worker with its playbooks": "MISSED",
        "CPU per accept, API": "met",
        "records/s": "met",
        "ratio to one request alone": "MISSED",
        "accept p99": "met",
        "worker RSS growth per 1,000 records": "met",
    }
