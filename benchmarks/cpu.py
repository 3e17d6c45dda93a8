"""CPU seconds of a process tree, from /proc (through psutil), read before and after a burst.

A process's total is its own user+system time, what its reaped children used (cutime+cstime: the
worker's finished ansible-playbook runs, PostgreSQL's exited backends) and, recursively, the totals
of the children still alive. Each CPU-second is then counted once whether the child is running,
a zombie or reaped when a snapshot is taken, so `after - before` is the tree's CPU in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psutil


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by `pid` and every descendant, live or reaped (0 once it is gone)."""
    try:
        process = psutil.Process(pid)
        times = process.cpu_times()
        children = process.children()
    except psutil.NoSuchProcess:
        return 0.0
    own = times.user + times.system + times.children_user + times.children_system
    return own + sum(tree_cpu_seconds(child.pid) for child in children)


def own_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` itself, without any child (the worker's Python, not its playbooks)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return float(times.user + times.system)


@dataclass
class CpuMeter:
    """Named process trees; `start()` then `stop()` gives each tree's CPU seconds in between."""

    pids: dict[str, int]

    def __post_init__(self) -> None:
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        self._before.update({f"{name} (own)": own_cpu_seconds(pid) for name, pid in self.pids.items()})

    def stop(self) -> dict[str, float]:
        return {name: tree_cpu_seconds(pid) - self._before[name] for name, pid in self.pids.items()}

    def own(self, name: str) -> float:
        """CPU seconds of the named process itself since `start()`, without its children."""
        return own_cpu_seconds(self.pids[name]) - self._before[f"{name} (own)"]


@dataclass
class RssTrail:
    """A process's resident memory each time another `every` records have finished: flat memory over
    a long burst shows as a trail that stops growing once the first records have warmed it up."""

    pid: int
    every: int
    points: list[tuple[int, float]] = field(default_factory=list)
    """(records finished, RSS in MiB)."""

    def finished(self, records: int) -> None:
        if records == 1 or records % self.every == 0:
            try:
                rss = psutil.Process(self.pid).memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                return
            self.points.append((records, rss))

    def growth_per_thousand(self) -> float:
        """MiB gained per 1,000 records from the trail's first tenth to its end (its warm-up left out)."""
        if len(self.points) < 3:
            return 0.0
        start = self.points[max(1, len(self.points) // 10)]
        end = self.points[-1]
        return 1000 * (end[1] - start[1]) / max(1, end[0] - start[0])
