"""`expires_at` and `emergency` on a Kafka message (issue 26), as API v2 takes them: part of the
request and of its identity; a value of the wrong kind is poison naming the field."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from consumer.decode import PoisonMessage, decode_request
from dnsorch.requests import CreateDnsRequest, request_hash

VALID = {
    "context": {"account_id": "acct-42"},
    "resource": {"record_type": "A", "domain": "k.example.test", "target": "192.0.2.20"},
}


def decode(document: Mapping[str, object]):  # type: ignore[no-untyped-def]
    value = json.dumps(document).encode()
    return decode_request(value, b"k", topic="dns_requests", partition=0, offset=3, max_bytes=4096)


def test_a_message_may_carry_expires_at_and_emergency_and_they_are_part_of_its_identity() -> None:
    plain = decode(VALID)
    assert plain.body.expires_at is None and plain.body.emergency is False
    assert request_hash(plain.body, "create") == request_hash(
        CreateDnsRequest.model_validate(VALID), "create"
    ), "a message without them keeps the fingerprint it always had"
    expiring = decode({**VALID, "expires_at": "2027-01-31T22:00:00Z"})
    assert expiring.body.expires_at is not None
    assert expiring.body.expires_at.isoformat() == "2027-01-31T22:00:00+00:00"
    urgent = decode({**VALID, "emergency": True})
    assert urgent.body.emergency is True
    hashes = {request_hash(d.body, "create") for d in (plain, expiring, urgent)}
    assert len(hashes) == 3


@pytest.mark.parametrize("when", ["tomorrow", "2027-13-01T00:00:00Z", [2027], {"at": 1}])
def test_an_expires_at_that_is_no_time_is_poison_naming_the_field(when: object) -> None:
    with pytest.raises(PoisonMessage) as poison:
        decode({**VALID, "expires_at": when})
    assert "wrong schema: expires_at" in poison.value.reason


@pytest.mark.parametrize("flag", ["yes", "true", 1, 0, None, [True]])
def test_an_emergency_that_is_not_a_json_boolean_is_poison_naming_the_field(flag: object) -> None:
    """No guessing: `"true"` or `1` could be a producer's bug, and an emergency passes freezes."""
    with pytest.raises(PoisonMessage) as poison:
        decode({**VALID, "emergency": flag})
    assert "wrong schema: emergency" in poison.value.reason
