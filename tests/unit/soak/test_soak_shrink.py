"""The shrinker's reduction logic with a fake runner (each real try is a whole soak), and the
schedule file a shrunk failure is replayed from."""

from __future__ import annotations

import json
from pathlib import Path

from soak import schedule
from soak.faults import Fault
from soak.generator import Op
from soak.schedule import Plan
from soak.shrink import compact, shrink, split


def ops(n: int) -> list[Op]:
    return [Op(i, 10.0 + i, "submit", {"door": "v2"}) for i in range(n)]


FAULTS = [Fault(12.0, "kill_api", 1.0), Fault(20.0, "bind_restart", 2.0), Fault(30.0, "knot_stop", 3.0)]


class Needs:
    """A fake soak: fails when the schedule holds these operations (by index) and fault kinds."""

    def __init__(self, op_indexes: set[int], fault_kinds: tuple[str, ...] = ()) -> None:
        self.op_indexes, self.fault_kinds = op_indexes, set(fault_kinds)
        self.calls: list[tuple[list[int], list[str]]] = []

    def __call__(self, tried_ops: list[Op], tried_faults: list[Fault]) -> bool:
        indexes, kinds = [op.index for op in tried_ops], [f.kind for f in tried_faults]
        self.calls.append((indexes, kinds))
        return self.op_indexes <= set(indexes) and self.fault_kinds <= set(kinds)


def test_a_failure_shrinks_to_the_operations_and_the_fault_it_needs() -> None:
    fails = Needs({3, 17}, ("bind_restart",))
    best = shrink(ops(40), FAULTS, fails, max_tries=200)
    assert [op.index for op in best.ops] == [3, 17]
    assert [f.kind for f in best.faults] == ["bind_restart"]
    assert best.tries == len(fails.calls)


def test_faults_go_first_when_the_failure_needs_none() -> None:
    fails = Needs({5})
    best = shrink(ops(20), FAULTS, fails, max_tries=200)
    assert fails.calls[0] == (list(range(20)), [])
    assert best.faults == []
    assert [op.index for op in best.ops] == [5]


def test_the_first_halving_keeps_the_earlier_half() -> None:
    fails = Needs({1})
    shrink(ops(8), [], fails, max_tries=1)
    assert fails.calls == [([0, 1, 2, 3], [])]


def test_max_tries_caps_the_runs_and_the_best_so_far_is_returned() -> None:
    fails = Needs({3, 17}, ("bind_restart",))
    kept: list[int] = []
    best = shrink(ops(40), FAULTS, fails, max_tries=3, kept=lambda b: kept.append(len(b.ops)))
    assert len(fails.calls) == 3 and best.tries == 3
    assert len(best.ops) < 40 and kept and kept[-1] == len(best.ops)
    assert {3, 17} <= {op.index for op in best.ops}


def test_a_failure_that_never_comes_back_leaves_the_schedule_whole() -> None:
    never = Needs({999})
    best = shrink(ops(10), FAULTS, never, max_tries=50)
    assert [op.index for op in best.ops] == list(range(10)) and best.faults == FAULTS
    assert best.tries == len(never.calls) <= 50


def test_split_gives_near_equal_non_empty_chunks() -> None:
    chunks = split(ops(7), 3)
    assert [len(c) for c in chunks] == [3, 2, 2]
    assert [op.index for c in chunks for op in c] == list(range(7))
    assert [len(c) for c in split(ops(2), 8)] == [1, 1]


def test_compact_moves_the_schedule_earlier_with_its_faults() -> None:
    plan = Plan(7, 3.0, "tansu", ops(40)[30:], [Fault(45.0, "kill_api", 1.0), Fault(5.0, "knot_stop", 1.0)])
    moved = compact(plan)
    assert moved.ops[0].at == 1.0 and moved.ops[-1].at == 10.0
    assert [f.at for f in moved.faults] == [6.0, 0.0]
    assert plan.ops[0].at == 40.0  # the original is left as it was


def test_a_schedule_file_replays_the_same_operations_and_faults(tmp_path: Path) -> None:
    act = Op(41, 12.5, "act", {"of": 3, "action": "approve"})
    plan = Plan(11, 3.0, "tansu", [*ops(3), act], FAULTS, note="shrunk")
    schedule.save(plan, tmp_path / "s.json")
    again = schedule.load(tmp_path / "s.json")
    assert again == plan
    assert again.submits == 3


def test_an_older_run_without_a_schedule_file_is_read_from_its_history(tmp_path: Path) -> None:
    events = [
        {"seq": 0, "t": 0, "wall": 1.0, "kind": "meta", "seed": 11, "n": 1, "rate": 3.0, "kafka": "tansu"},
        {"seq": 1, "t": 0, "wall": 1.0, "kind": "op", "op": 0, "at": 1.5, "op_kind": "submit", "door": "v1"},
        {"seq": 2, "t": 0, "wall": 1.0, "kind": "fault_plan", "at": 3.0, "fault": "kill_api", "duration": 1.0,
         "target": ""},
        {"seq": 3, "t": 0, "wall": 1.0, "kind": "stack_up"},
        {"seq": 4, "t": 9, "wall": 9.0, "kind": "op", "op": 99, "at": 0, "op_kind": "late"},
    ]  # fmt: skip
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    plan = schedule.load(tmp_path)
    assert plan.seed == 11 and plan.kafka == "tansu"
    assert plan.ops == [Op(0, 1.5, "submit", {"door": "v1"})]
    assert plan.faults == [Fault(3.0, "kill_api", 1.0)]
