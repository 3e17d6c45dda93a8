"""What makes a Kafka message a request, and what makes it poison (with a reason for the DLQ)."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka.structs import ConsumerRecord

from consumer.dead_letter import dead_letter_headers
from consumer.decode import PoisonMessage, decode_request, position_request_id
from dnsorch.requests import CreateDnsRequest, request_hash

VALID = {
    "context": {"account_id": "acct-42", "source": "kafka"},
    "resource": {"record_type": "A", "domain": "k.example.test", "target": "192.0.2.20"},
}


PRODUCED = 1_780_000_000_000  # the record's timestamp, in milliseconds


def decode(value: bytes | None, key: bytes | None = None, offset: int = 7, timestamp: int = PRODUCED):  # type: ignore[no-untyped-def]
    return decode_request(
        value, key, topic="dns_requests", partition=1, offset=offset, max_bytes=4096, timestamp=timestamp
    )


def test_a_message_without_request_id_gets_a_stable_id_from_the_record() -> None:
    first = decode(json.dumps(VALID).encode(), key=b"k")
    again = decode(json.dumps(VALID).encode(), key=b"k")  # a redelivery: the same record
    elsewhere = decode(json.dumps(VALID).encode(), key=b"k", offset=8)
    assert first.request_id == again.request_id
    assert elsewhere.request_id != first.request_id
    assert first.position_request_id == position_request_id("dns_requests", 1, 7)


def test_a_new_message_at_an_offset_used_before_a_reset_gets_a_new_id() -> None:
    old = decode(json.dumps(VALID).encode(), key=b"k")
    later = decode(json.dumps(VALID).encode(), key=b"k", timestamp=PRODUCED + 60_000)
    other_body = decode(json.dumps({**VALID, "context": {"account_id": "acct-43"}}).encode(), key=b"k")
    other_key = decode(json.dumps(VALID).encode(), key=b"k2")
    ids = {old.request_id, later.request_id, other_body.request_id, other_key.request_id}
    assert len(ids) == 4
    assert old.position_request_id == later.position_request_id, "the same position, as before"


def test_a_given_request_id_is_used_as_is_and_the_key_is_kept() -> None:
    request_id = str(uuid.uuid4())
    decoded = decode(json.dumps({**VALID, "request_id": request_id}).encode(), key=b"team-a")
    assert decoded.request_id == request_id
    assert decoded.position_request_id is None, "its own id is its identity, whatever its offset"
    assert decoded.message_key == "team-a"
    assert decoded.body.resource.domain == "k.example.test"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty message"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"x" * 5000, "oversized"),
        (b"[" * 3000 + b"]" * 3000, "oversized"),
        (
            json.dumps(
                {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": 1}}}}}}}}}}}
            ).encode(),
            "nested deeper",
        ),
        ((b'{"x":' * 1500) + b"1" + (b"}" * 1500), "oversized"),
        (json.dumps({**VALID, "request_id": "not-a-uuid"}).encode(), "request_id must be a UUID"),
        (json.dumps({"context": {"account_id": "a"}}).encode(), "wrong schema: resource"),
        (json.dumps({**VALID, "extra": 1}).encode(), "wrong schema: extra"),
    ],
)
def test_poison_is_refused_with_a_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(PoisonMessage) as poison:
        decode(value)
    assert reason in poison.value.reason


def test_deeply_nested_json_within_the_size_limit_is_poison_not_a_crash() -> None:
    nested = (b'{"x":' * 2000) + b"1" + (b"}" * 2000)
    with pytest.raises(PoisonMessage) as poison:
        decode_request(nested, None, topic="t", partition=0, offset=0, max_bytes=1 << 20)
    assert "nested" in poison.value.reason


def test_dead_letter_headers_keep_the_producers_headers_and_say_where_from_and_why() -> None:
    record = ConsumerRecord(
        topic="dns_requests",
        partition=2,
        offset=41,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"v",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        headers=[("trace", b"abc")],
    )
    headers = dead_letter_headers(record, "not JSON: Expecting value")
    assert headers == [
        ("trace", b"abc"),
        ("dnsorch.original.topic", b"dns_requests"),
        ("dnsorch.original.partition", b"2"),
        ("dnsorch.original.offset", b"41"),
        ("dnsorch.reason", b"not JSON: Expecting value"),
    ]


def test_a_message_may_carry_not_before_and_it_is_part_of_its_identity() -> None:
    scheduled = decode(json.dumps({**VALID, "not_before": "2027-01-31T22:00:00Z"}).encode(), key=b"k")
    assert scheduled.body.not_before is not None
    assert scheduled.body.not_before.isoformat() == "2027-01-31T22:00:00+00:00"
    unscheduled = decode(json.dumps(VALID).encode(), key=b"k")
    assert unscheduled.body.not_before is None
    assert request_hash(unscheduled.body, "create") == request_hash(
        CreateDnsRequest.model_validate(VALID), "create"
    ), "a message without not_before keeps the fingerprint it always had"
    assert request_hash(scheduled.body, "create") != request_hash(unscheduled.body, "create")


@pytest.mark.parametrize("when", ["tomorrow", "2027-13-01T00:00:00Z", [2027], {"at": 1}])
def test_a_not_before_that_is_no_time_is_poison_naming_the_field(when: object) -> None:
    with pytest.raises(PoisonMessage) as poison:
        decode(json.dumps({**VALID, "not_before": when}).encode())
    assert "wrong schema: not_before" in poison.value.reason
