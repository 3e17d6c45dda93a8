"""Values PostgreSQL, Temporal or the playbook would refuse later are refused first, naming the field."""

from __future__ import annotations

import asyncio
import base64
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError
from sqlalchemy.exc import DataError

from consumer.dead_letter import MAX_REASON_BYTES, clean_reason
from consumer.decode import PoisonMessage, decode_request
from consumer.ingest import Ingestor
from dnsorch.contracts import InvalidRequest
from dnsorch.requests import CreateDnsRequest, build_spec, queries
from dnsorch.settings import Settings

EXTRA = "resource.config.extra_config"


def document(extra_config: Any = None, **context: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"record_type": "TXT", "domain": "t.example.test", "target": "ok"}
    if extra_config is not None:
        resource["config"] = {"extra_config": extra_config}
    return {"context": {"account_id": "acct-1", **context}, "resource": resource}


def refused_fields(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        CreateDnsRequest.model_validate(doc)
    return [".".join(str(p) for p in e["loc"]) for e in refused.value.errors()]


BAD_EXTRA_CONFIG = {
    "nan": {"x": math.nan},
    "infinity": {"x": math.inf},
    "minus-infinity": {"x": -math.inf},
    "lone-surrogate-value": {"x": "a\ud800b"},
    "lone-surrogate-key": {"a\udfffb": "v"},
    "nul-value": {"x": "a\x00b"},
    "nul-key": {"a\x00b": "v"},
    "escape-key": {"a\x1b[31m": "v"},
    "empty-key": {"": "v"},
    "long-key": {"k" * 65: "v"},
    "long-value": {"x": "v" * 257},
    "too-many-keys": {f"k{n}": n for n in range(21)},
    "nested-object": {"x": {"y": 1}},
    "nested-list": {"x": [1]},
}


@pytest.mark.parametrize("extra", list(BAD_EXTRA_CONFIG.values()), ids=list(BAD_EXTRA_CONFIG))
def test_extra_config_postgresql_or_temporal_would_refuse_is_a_validation_error(extra: Any) -> None:
    assert refused_fields(document(extra)) == [EXTRA]


def test_extra_config_within_the_limits_is_kept_as_sent() -> None:
    extra = {"k" * 64: "v" * 256, "port": 5060, "ratio": 0.5, "on": True, "off": None, "emoji": "🚀 名前"}
    extra |= {f"n{i}": i for i in range(20 - len(extra))}
    body = CreateDnsRequest.model_validate(document(extra))
    assert body.resource.config.extra_config == extra


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_number_from_json_text_is_refused(literal: str) -> None:
    """Python's json module reads these, though JSON has no such numbers."""
    text = json.dumps(document({"x": "__N__"})).replace('"__N__"', literal)
    assert refused_fields(json.loads(text)) == [EXTRA]


@pytest.mark.parametrize(
    ("section", "name"),
    [("context", "account_id"), ("resource", "domain"), ("resource", "target"), ("resource", "comment")],
)
def test_a_lone_surrogate_in_any_text_field_is_refused(section: str, name: str) -> None:
    doc = document()
    doc[section][name] = "a\ud800b"
    assert refused_fields(doc) == [f"{section}.{name}"]


def test_build_spec_checks_extra_config_even_when_the_model_was_not_validated() -> None:
    """Defence in depth: a body built without validation (model_construct) is checked again."""
    body = CreateDnsRequest.model_validate(document())
    body.resource.config.extra_config = {"x": math.nan}
    with pytest.raises(InvalidRequest) as refused:
        build_spec(body, ["example.test"], "00000000-0000-0000-0000-000000000001", "api")
    assert refused.value.field == EXTRA
    assert "finite" in refused.value.reason


# ---- list filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "utc"),
    [
        ("2020-01-01T00:00:00+23:59", "2019-12-31T00:01:00+00:00"),
        ("2020-01-01T00:00:00-16:00", "2020-01-01T16:00:00+00:00"),
        ("2020-01-01T00:00:00", "2020-01-01T00:00:00+00:00"),
        ("9999-12-31T23:00:00+05:00", "9999-12-31T18:00:00+00:00"),
    ],
)
def test_a_filter_time_is_sent_to_postgresql_in_utc(sent: str, utc: str) -> None:
    converted = queries.as_utc("created_after", datetime.fromisoformat(sent))
    assert converted.utcoffset() == timedelta(0)
    assert converted.isoformat() == utc


@pytest.mark.parametrize("sent", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_filter_time_outside_the_calendar_in_utc_is_invalid(sent: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        queries.as_utc("created_before", datetime.fromisoformat(sent))
    assert refused.value.field == "created_before"


def test_list_requests_refuses_a_far_offset_before_it_reaches_postgresql() -> None:
    far = datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=23, minutes=59)))
    filters = queries.RequestFilters(created_after=far)
    with pytest.raises(InvalidRequest) as refused:
        queries.list_requests(None, filters, 10, None)  # type: ignore[arg-type]  # no query is run
    assert refused.value.field == "created_after"


def test_a_cursor_with_a_far_offset_is_read_in_utc() -> None:
    raw = b"2020-01-01T00:00:00+20:00|00000000-0000-0000-0000-000000000001"
    at, _ident = queries.decode_cursor(base64.urlsafe_b64encode(raw).decode())
    assert at == datetime(2019, 12, 31, 4, tzinfo=UTC)
    assert at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("name", ["status", "domain", "zone", "account_id", "source"])
def test_list_requests_refuses_a_nul_in_a_filter_naming_it(name: str) -> None:
    filters = queries.RequestFilters(**{name: "a\x00b"})  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest) as refused:
        queries.list_requests(None, filters, 10, None)  # type: ignore[arg-type]
    assert refused.value.field == name


@pytest.mark.parametrize("name", ["domain", "zone", "record_type", "account_id"])
def test_list_records_refuses_a_nul_in_a_filter_naming_it(name: str) -> None:
    filters: dict[str, str | None] = {"domain": None, "zone": None, "record_type": None, "account_id": None}
    with pytest.raises(InvalidRequest) as refused:
        queries.list_records(None, **{**filters, name: "a\x00b"})  # type: ignore[arg-type]
    assert refused.value.field == name


# ---- Kafka: poison, never a dead consumer -------------------------------------------------------


def decode(value: bytes, max_bytes: int = 65_536) -> Any:
    return decode_request(value, None, topic="t", partition=0, offset=1, max_bytes=max_bytes)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "nested too deeply"),
        (b'{"context": ' + b"9" * 5000 + b"}", "too many digits"),
        (json.dumps(document({"x": math.nan})).encode(), EXTRA),
        (json.dumps(document({"x": "a\ud800b"})).encode(), EXTRA),
        (json.dumps(document({"k" * 1000: 1})).encode(), EXTRA),
        (json.dumps({**document(), "a\x00b": 1}).encode(), "a\x00b"),
    ],
    ids=["deep-arrays", "deep-objects", "huge-integer", "nan", "surrogate", "long-key", "nul-field-name"],
)
def test_a_hostile_message_is_poison_with_a_reason(value: bytes, reason: str) -> None:
    with pytest.raises(PoisonMessage) as poison:
        decode(value)
    assert reason in poison.value.reason


def test_a_dead_letter_reason_is_valid_utf8_without_nul_and_bounded() -> None:
    cleaned = clean_reason("wrong schema: a\x00b\ud800c: " + "é" * 2000)
    assert cleaned.startswith("wrong schema: a\\x00b\\ud800c: ")
    assert "\x00" not in cleaned
    assert len(cleaned.encode("utf-8")) <= MAX_REASON_BYTES


async def test_a_value_postgresql_refuses_on_insert_is_dead_lettered_not_fatal() -> None:
    """Defence in depth: a DataError on insert is as final as a validation error."""

    class Refusing:
        async def prepare_many(self, calls: list[Any], _source: str) -> list[Any]:
            return [SimpleNamespace(request=SimpleNamespace(request_id=call.request_id)) for call in calls]

        async def store_many(self, *_args: Any) -> list[bool]:
            orig = ValueError("invalid input syntax for type json\nLINE 1: ...\n")
            raise DataError("INSERT INTO dns_requests ...", {}, orig)

    ingestor = Ingestor(Settings(), Refusing(), SimpleNamespace(), SimpleNamespace())  # type: ignore[arg-type]
    dead: list[str] = []

    async def dead_letter(_message: ConsumerRecord, reason: str) -> None:
        dead.append(reason)

    ingestor._dead_letter = dead_letter  # type: ignore[method-assign,assignment]
    message = ConsumerRecord(
        topic="t",
        partition=0,
        offset=5,
        timestamp=0,
        timestamp_type=0,
        key=None,
        # Its own request_id: an id-less message would first be looked up in PostgreSQL (consumer/ingest.py).
        value=json.dumps({**document(), "request_id": "9f0c2a52-7a4e-4c1b-9d3e-2b6f1e0d5c41"}).encode(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=(),
    )
    assert await ingestor._handle([message], asyncio.Event())
    assert dead == ["cannot be stored: invalid input syntax for type json"]
