"""Faults at seeded times: kills, frozen or stopped servers, restarts. The harness undoes each one.

One fault at a time, so each one's recovery can be told apart. A role that dies on its own is
restarted too, and recorded as `role_died` (no fault made it exit).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from soak.history import History
from soak.stack import SoakStack

KINDS: dict[str, tuple[float, float, int]] = {
    # kind → (shortest, longest outage in seconds, weight)
    "kill_worker": (1.0, 8.0, 4),
    "kill_api": (0.5, 3.0, 2),
    "kill_consumer": (1.0, 6.0, 2),
    "knot_freeze": (3.0, 16.0, 2),
    "knot_stop": (2.0, 10.0, 1),
    "bind_restart": (0.5, 4.0, 2),
    "postgres_stop": (2.0, 10.0, 2),
    "temporal_restart": (0.5, 3.0, 2),
    "kafka_restart": (1.0, 4.0, 1),
}


@dataclass(frozen=True)
class Fault:
    at: float
    kind: str
    duration: float
    target: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_faults(seed: int, count: int, window: float, kafka_kind: str) -> list[Fault]:
    """`count` faults spread over `window` seconds, every kind at least once when count allows."""
    rng = random.Random(f"faults-{seed}")  # noqa: S311  (a schedule, not a secret)
    kinds = {k: v for k, v in KINDS.items() if kafka_kind == "apache" or k != "kafka_restart"}
    names = list(kinds)
    picked = rng.sample(names, min(count, len(names)))
    picked += rng.choices(names, weights=[kinds[k][2] for k in names], k=max(0, count - len(picked)))
    rng.shuffle(picked)
    slot = window / max(1, count)
    faults = []
    for i, kind in enumerate(picked):
        low, high, _w = kinds[kind]
        target = rng.choice(("worker-1", "worker-2")) if kind == "kill_worker" else ""
        faults.append(
            Fault(
                round(i * slot + rng.uniform(0.2, 0.6) * slot, 3),
                kind,
                round(rng.uniform(low, high), 2),
                target,
            )
        )
    return faults


class FaultInjector:
    def __init__(self, stack: SoakStack, history: History) -> None:
        self.stack = stack
        self.history = history
        self.stopping = asyncio.Event()

    async def run(self, faults: list[Fault], started: float) -> None:
        for fault in faults:
            delay = started + fault.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await asyncio.to_thread(self.inject, fault)

    def inject(self, fault: Fault) -> None:
        kind = fault.kind
        start = self.history.record("fault_start", fault=kind, target=fault.target, duration=fault.duration)
        error = ""
        try:
            undo = self._do(fault)
            time.sleep(fault.duration)
            undo()
        except Exception as exc:  # the harness could not undo its own fault: the run is suspect
            error = repr(exc)
        ended = self.history.record(
            "fault_end", fault=kind, target=fault.target, fault_seq=start["seq"], error=error
        )
        ready = self._api_ready_after()
        self.history.record(
            "fault_recovered",
            fault=kind,
            fault_seq=start["seq"],
            api_ready_after=round(ready, 3),
            outage=round(ended["t"] - start["t"], 3),
        )

    def _do(self, fault: Fault) -> Callable[[], None]:
        """Inflict the fault; what undoes it."""
        stack, kind = self.stack, fault.kind
        if kind in ("kill_worker", "kill_api", "kill_consumer"):
            role = fault.target if kind == "kill_worker" else kind.removeprefix("kill_")
            stack.kill_role(role)
            return lambda: stack.start_role(role)
        if kind == "knot_freeze":
            stack.freeze_knot()
            return stack.thaw_knot
        servers: dict[str, Any] = {
            "knot_stop": stack.knot,
            "bind_restart": stack.bind,
            "postgres_stop": stack.postgres,
            "temporal_restart": stack.temporal,
            "kafka_restart": stack.kafka,
        }
        server = servers[kind]
        assert server is not None
        server.stop()
        return stack.start_kafka if kind == "kafka_restart" else server.start

    def _api_ready_after(self) -> float:
        """Seconds until /readyz answers 200 again (PostgreSQL and Temporal both answer)."""
        try:
            return self.stack.wait_api_ready(120)
        except RuntimeError:
            return float("nan")

    async def watch_roles(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(1.0)
            for name in self.stack.dead_roles():
                proc = self.stack.procs.pop(name, None)
                if proc is None:  # the injector took it meanwhile
                    continue
                self.history.record("role_died", role=name, returncode=proc.returncode)
                await asyncio.to_thread(self.stack.start_role, name)
