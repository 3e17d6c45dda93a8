"""The soak's generator: changes made by hand are part of the seeded schedule, the same for the same
seed, and leave every other operation of that seed where it was."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass

from soak.generator import FREE_NAMES, NAMES, Op, build_schedule, fqdn

HAND_ACTIONS = {"change", "delete", "add"}


def hand_ops(ops: list[Op]) -> list[Op]:
    return [op for op in ops if op.kind == "hand"]


def test_the_same_seed_gives_the_same_hand_changes() -> None:
    first, again = build_schedule(11, 150, 3.0), build_schedule(11, 150, 3.0)
    assert [op.as_dict() for op in hand_ops(first)] == [op.as_dict() for op in hand_ops(again)]
    assert hand_ops(first), "150 submissions should bring a few hand changes"
    other = build_schedule(12, 150, 3.0)
    assert [op.as_dict() for op in hand_ops(first)] != [op.as_dict() for op in hand_ops(other)]


def test_hand_changes_aim_at_asked_names_or_at_free_ones() -> None:
    asked_names = {fqdn(name) for name in NAMES}
    free = {fqdn(name) for name in FREE_NAMES}
    for seed in range(1, 30):
        ops = build_schedule(seed, 120, 3.0)
        created = {
            (op.params["body"]["resource"]["domain"], op.params["body"]["resource"]["record_type"])
            for op in ops
            if op.kind == "submit" and op.params["operation"] == "create"
        }
        for op in hand_ops(ops):
            p = op.params
            assert p["action"] in HAND_ACTIONS
            if p["action"] == "add":
                assert p["domain"] in free and p["domain"] not in asked_names
            else:
                assert (p["domain"], p["rtype"]) in created
            if p["action"] != "delete":
                dns.rdata.from_text(dns.rdataclass.IN, p["rtype"], p["value"])  # presentation format


def test_hand_changes_come_last_in_numbering_so_the_rest_of_a_seed_stays_put() -> None:
    ops = build_schedule(7, 200, 3.0, timed=False)
    others = sorted(op.index for op in ops if op.kind != "hand")
    hands = sorted(op.index for op in hand_ops(ops))
    assert others == list(range(len(others)))
    assert hands == list(range(len(others), len(ops)))


def test_time_aware_stories_leave_every_older_operation_of_a_seed_as_it_was() -> None:
    for seed in (7, 10, 11):
        before = build_schedule(seed, 200, 3.0, timed=False)
        now = build_schedule(seed, 200, 3.0)
        timed = [op for op in now if op.params.get("timed")]
        assert timed, "200 submissions should bring a few time-aware stories"
        assert [op.as_dict() for op in now if not op.params.get("timed")] == [op.as_dict() for op in before]
        assert min(op.index for op in timed) == len(before)


def test_a_time_aware_follow_up_names_an_earlier_request_of_its_own_story() -> None:
    for seed in range(1, 20):
        ops = {op.index: op for op in build_schedule(seed, 150, 3.0)}
        for op in ops.values():
            if not op.params.get("timed") or "of" not in op.params:
                continue
            of = ops[op.params["of"]]
            assert of.kind == "submit" and of.params["timed"] == op.params["timed"]
            assert of.index < op.index and of.at < op.at
            if op.kind == "reschedule" or op.params["timed"] == "scheduled":
                assert "not_before_in" in of.params
            if op.kind == "extend":
                assert "expires_in" in of.params
            if op.params["timed"] == "dance":
                assert of.params["ttl_dance"] and of.params["operation"] == "update"


def test_a_dance_moves_a_record_whose_ttl_is_seconds_so_its_wait_is_short() -> None:
    for seed in range(1, 20):
        ops = build_schedule(seed, 150, 3.0)
        creates = {
            op.params["body"]["resource"]["domain"]: op.params["body"]["resource"]["config"]["ttl"]
            for op in ops
            if op.params.get("timed") == "dance" and op.params.get("operation") == "create"
        }
        for op in ops:
            if op.params.get("timed") == "dance" and op.kind == "submit" and op.params.get("ttl_dance"):
                old = creates[op.params["body"]["resource"]["domain"]]
                assert 3 <= old <= 8
                assert old <= op.params["body"]["resource"]["config"]["ttl"] <= 10  # no ttl_drop approval


def test_an_op_reads_back_from_its_history_form() -> None:
    for op in build_schedule(3, 40, 3.0):
        assert Op.from_dict({"seq": 1, "t": 0.1, "wall": 2.0, "kind": "op", **op.as_dict()}) == Op(
            op.index, round(op.at, 3), op.kind, op.params
        )
