"""API key format, roles and the per-key token bucket (no server needed)."""

from __future__ import annotations

import pytest

from api.security import TokenBuckets
from dnsorch.store import Principal, Role
from dnsorch.store.keys import hash_key, key_id_of


def test_roles_are_ordered_and_parsed_by_name() -> None:
    assert Role.parse("Submitter") < Role.parse("operator") < Role.parse("ADMIN")
    with pytest.raises(ValueError, match="unknown role 'root'"):
        Role.parse("root")


def test_a_submitter_sees_only_its_account_and_an_operator_sees_all() -> None:
    submitter = Principal("k1", "ci", "acct-red", Role.SUBMITTER)
    operator = Principal("k2", "alice", "acct-ops", Role.OPERATOR)
    assert submitter.sees_account("acct-red") and not submitter.sees_account("acct-blue")
    assert operator.sees_account("acct-blue") and operator.may(Role.OPERATOR)
    assert not submitter.may(Role.OPERATOR)
    assert operator.actor == "alice (operator)"


def test_a_key_is_identified_by_its_id_or_whole_and_hashed_whole() -> None:
    key = "dnsorch_0123456789ab_" + "A" * 43
    assert key_id_of(key) == "0123456789ab"
    assert key_id_of(" 0123456789ab ") == "0123456789ab"
    assert hash_key(key) != hash_key(key[:-1] + "B")
    assert len(hash_key(key)) == 64


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token back after 1/rate seconds
    assert buckets.take("b") == 0.0  # keys do not share a bucket
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    clock.now += 60
    assert [buckets.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # never more than the burst
    assert buckets.take("a") > 0
