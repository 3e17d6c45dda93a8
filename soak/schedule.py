"""A whole run's schedule as a JSON file: what `--schedule FILE` replays and the shrinker writes.

Every run writes its own `schedule.json` beside its history; an older history (without one) gives
the same back from its `meta`, `op` and `fault_plan` events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soak.faults import Fault
from soak.generator import Op


@dataclass
class Plan:
    """The operations and the faults of one run, with the seed and settings they came from."""

    seed: int
    rate: float
    kafka: str | None
    ops: list[Op] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    note: str = ""
    """Where the plan came from (e.g. `shrunk from …`)."""

    @property
    def submits(self) -> int:
        """The generator's N: client submissions, not counting those of time-aware stories."""
        return sum(1 for op in self.ops if op.kind == "submit" and not op.params.get("timed"))

    @property
    def timed(self) -> int:
        """Operations of time-aware stories (soak/timed.py)."""
        return sum(1 for op in self.ops if op.params.get("timed"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rate": self.rate,
            "kafka": self.kafka,
            "note": self.note,
            "ops": [op.as_dict() for op in self.ops],
            "faults": [fault.as_dict() for fault in self.faults],
        }


def save(plan: Plan, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan.as_dict(), indent=1) + "\n")


def load(path: Path) -> Plan:
    """A schedule file, or a run directory (its schedule.json, else its history.jsonl)."""
    if path.is_dir():
        path = path / "schedule.json" if (path / "schedule.json").exists() else path / "history.jsonl"
    if path.suffix == ".jsonl":
        return from_history(path)
    found = json.loads(path.read_text())
    return Plan(
        int(found["seed"]),
        float(found["rate"]),
        found.get("kafka"),
        [Op.from_dict(op) for op in found["ops"]],
        [Fault(**fault) for fault in found["faults"]],
        found.get("note", ""),
    )


def from_history(path: Path) -> Plan:
    plan: Plan | None = None
    ops, faults = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        if event["kind"] == "meta":
            plan = Plan(int(event["seed"]), float(event["rate"]), event.get("kafka"))
        elif event["kind"] == "op":
            ops.append(Op.from_dict(event))
        elif event["kind"] == "fault_plan":
            faults.append(Fault(event["at"], event["fault"], event["duration"], event.get("target", "")))
        elif event["kind"] == "stack_up":
            break  # the plan is written before the stack starts
    if plan is None:
        raise ValueError(f"{path} has no meta event: not a soak history")
    plan.ops, plan.faults = ops, faults
    return plan
