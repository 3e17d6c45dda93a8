"""Hostile Kafka messages: each is stored literally or dead-lettered with a reason naming the field;
the consumer never stops, and the partition moves on past every poison message.

The consumer runs as a process beside a worker of its own (its task queue, an approval gate on the
test zone) on the session's Tansu broker: what is tested is the consumer's validation, which does
not depend on the broker (test_kafka_e2e.py runs the consumer on Apache Kafka too).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from consumer.dead_letter import HEADER_REASON
from tests.fixtures.hostile import (
    CREATE_FIELDS,
    HOSTILE,
    create_body,
    hostile_processes,
    place,
    unique_domain,
)
from tests.fixtures.kafka_tools import KafkaRun, eventually
from tests.fixtures.process_stack import ProcessStack

pytestmark = pytest.mark.e2e

KAFKA_FIELDS = [*CREATE_FIELDS, "request_id"]
# No field can keep these as sent: each must be dead-lettered.
REFUSED_EVERYWHERE = ["nul", "lone-surrogate", "escape", "bell-del", "10kb"]


@pytest.fixture(scope="module")
def hostile_worker(
    stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessStack]:
    with hostile_processes(stack_env, tmp_path_factory.mktemp("hostile-kafka"), "worker") as stack:
        yield stack


def _kafka_message(field: str, value: str) -> tuple[str, dict[str, Any]]:
    request_id = str(uuid.uuid4())
    body: dict[str, Any] = {"request_id": request_id, **create_body(unique_domain("kafka"))}
    body["context"]["source"] = "kafka"
    if field == "request_id":
        body["request_id"] = value
    else:
        place(body, field, value)
    return request_id, body


def _rows(engine: Engine, request_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored requests among `request_ids`, by id."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT CAST(id AS text) AS id, account_id, source, record_type, domain, target, comment,"
                " config, message_key FROM dns_requests WHERE CAST(id AS text) = ANY(:ids)"
            ),
            {"ids": request_ids},
        ).mappings()
        return {row["id"]: dict(row) for row in rows}


def _kafka_stored(row: dict[str, Any], field: str, value: str) -> tuple[Any, Any]:
    """(what the consumer stored, what it must equal)."""
    extra = row["config"]["extra_config"]
    if field == "extra_config value":
        return extra.get("note"), value
    if field == "extra_config key":
        return extra.get(value), "v"
    return row[field.split(".")[1]], value


async def _dead_letters_by_key(
    run: KafkaRun, engine: Engine, keys: list[bytes], rows: list[str]
) -> dict[bytes, str]:
    """Wait until every key is dead-lettered or its request id is a row; the reasons by key."""
    found: dict[bytes, str] = {}

    async def settled() -> bool:
        for record in await run.read_all(run.dlq_topic, expected=0, timeout=1):
            found[record.key] = dict(record.headers)[HEADER_REASON].decode()
        stored = _rows(engine, rows)
        return all(key in found or request_id in stored for key, request_id in zip(keys, rows, strict=True))

    await eventually(
        settled,
        timeout=120,
        interval=1,
        what="every hostile message dead-lettered or stored",
        explain=lambda: run.log_text()[-3000:],
    )
    return found


async def test_kafka_message_fields_are_dead_lettered_naming_the_field_or_stored_literally(
    tansu_broker: Any, hostile_worker: ProcessStack, engine: Engine, tmp_path: Path
) -> None:
    run = KafkaRun(tansu_broker.bootstrap, hostile_worker.env, tmp_path)
    await run.create_topics()
    cases: list[tuple[str, str, str, bytes]] = []  # field, value name, request id, key
    values = []
    for field in KAFKA_FIELDS:
        for name, value in HOSTILE.items():
            request_id, body = _kafka_message(field, value)
            cases.append((field, name, request_id, f"{field}|{name}".encode()))
            values.append(json.dumps(body).encode())
    await run.produce(values, [key for *_, key in cases])
    try:
        consumer = run.start_consumer()
        dead = await _dead_letters_by_key(run, engine, [c[3] for c in cases], [c[2] for c in cases])
        assert consumer.poll() is None, run.log_text()[-3000:]
    finally:
        run.stop_all()
    problems: list[tuple[Any, ...]] = []
    stored = _rows(engine, [c[2] for c in cases])
    for field, name, request_id, key in cases:
        value = HOSTILE[name]
        row, reason = stored.get(request_id), dead.get(key)
        if (row is None) == (reason is None):
            problems.append((field, name, "neither or both stored and dead-lettered", reason))
        elif reason is not None:
            if CREATE_FIELDS.get(field, field) not in reason:
                problems.append((field, name, "reason does not name the field", reason))
        elif row is not None:
            if name in REFUSED_EVERYWHERE:
                problems.append((field, name, "stored, though no field can hold it", row))
            got, expected = _kafka_stored(row, field, value)
            if got != expected:
                problems.append((field, name, "stored differently", got))
            if row["message_key"] != key.decode():
                problems.append((field, name, "key stored differently", row["message_key"]))
    assert not problems, problems


def _with_config(config: dict[str, Any]) -> bytes:
    body = {"request_id": str(uuid.uuid4()), **create_body(unique_domain("poison"), config=config)}
    return json.dumps(body).encode()  # json.dumps writes NaN, Infinity and \ud800 as Python reads them


# kind → (message, what its dead letter's reason must say)
POISON: dict[str, tuple[bytes, str]] = {
    "nan": (_with_config({"extra_config": {"x": math.nan}}), "resource.config.extra_config"),
    "infinity": (_with_config({"extra_config": {"x": math.inf}}), "resource.config.extra_config"),
    "nan-ttl": (_with_config({"ttl": math.nan}), "resource.config.ttl"),
    "surrogate-value": (_with_config({"extra_config": {"x": "a\ud800b"}}), "resource.config.extra_config"),
    "surrogate-key": (_with_config({"extra_config": {"a\udfffb": 1}}), "resource.config.extra_config"),
    "long-key": (_with_config({"extra_config": {"k" * 1000: 1}}), "resource.config.extra_config"),
    "21-keys": (_with_config({"extra_config": {f"k{n}": n for n in range(21)}}), "at most 20"),
    "nul-in-a-field-name": (
        json.dumps({**create_body(unique_domain("poison")), "a\x00b": 1}).encode(),
        "a\\x00b",  # the ledger and the header hold the name escaped
    ),
    "deep-arrays": (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
    "deep-objects": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "nested too deeply"),
    "huge-integer": (b'{"context": ' + b"9" * 20_000 + b"}", "too many digits"),
    "not-utf8": (b'{"context": {"account_id": "\xff\xfe"}}', "not UTF-8"),
}


async def test_kafka_poison_is_dead_lettered_and_the_partition_moves_on(
    tansu_broker: Any, hostile_worker: ProcessStack, engine: Engine, tmp_path: Path
) -> None:
    """One partition: every poison message in turn, then a good one, which must be accepted."""
    run = KafkaRun(tansu_broker.bootstrap, hostile_worker.env, tmp_path, partitions=1)
    await run.create_topics()
    after_id = str(uuid.uuid4())
    after = {"request_id": after_id, **create_body(unique_domain("after"))}
    keys = [f"poison|{kind}".encode() for kind in POISON]
    await run.produce(
        [value for value, _ in POISON.values()] + [json.dumps(after).encode()], [*keys, b"after"]
    )
    try:
        consumer = run.start_consumer()
        await eventually(
            lambda: _rows(engine, [after_id]) or consumer.poll() is not None,
            timeout=60,
            what="the message after the poison stored (or the consumer gone)",
        )
        dead = await run.read_all(run.dlq_topic, expected=len(POISON), timeout=10)
        alive = consumer.poll() is None
    finally:
        run.stop_all()
    assert alive and _rows(engine, [after_id]), run.log_text()[-3000:]
    reasons = {record.key: dict(record.headers)[HEADER_REASON].decode() for record in dead}
    assert [record.key for record in dead] == keys  # in order, each once
    wrong = {
        kind: reasons[key]
        for kind, key in zip(POISON, keys, strict=True)
        if POISON[kind][1] not in reasons[key]
    }
    assert not wrong, wrong
    with engine.connect() as conn:
        ledger = {
            row.message_key: row.reason
            for row in conn.execute(
                text("SELECT message_key, reason FROM dead_letters WHERE topic = :topic"),
                {"topic": run.requests_topic},
            )
        }
    assert ledger == {key.decode(): reasons[key] for key in keys}
