"""A producer that is not ours (librdkafka, via confluent-kafka) provisions a record through Kafka."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from sqlalchemy import Engine, text

from tests.fixtures.dns import served
from tests.fixtures.kafka_tools import KafkaRun
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_librdkafka_message_with_key_and_headers_provisions_a_record(
    kafka_broker: Any,
    stack: ProcessStack,
    stack_env: dict[str, str],
    bind_server: Any,
    engine: Engine,
    tmp_path: Path,
) -> None:
    run = KafkaRun(kafka_broker.bootstrap, stack_env, tmp_path)
    await run.create_topics()
    domain = f"kafka-{kafka_broker.kind}.example.test"
    request_id = str(uuid.uuid4())
    body = {
        "request_id": request_id,
        "context": {"account_id": "acct-kafka"},
        "resource": {
            "record_type": "A",
            "domain": domain,
            "target": "192.0.2.20",
            "comment": "via librdkafka",
        },
    }
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "enable.idempotence": False})
    producer.produce(
        run.requests_topic,
        json.dumps(body).encode(),
        key=b"team-k",
        headers=[("trace-id", b"t-1"), ("origin", b"crm")],
    )
    assert producer.flush(30) == 0
    try:
        run.start_consumer()
        status = await eventually(
            lambda: _status(engine, request_id),
            lambda status: status in {"COMPLETED", "FAILED"},
            timeout=120,
            what=f"request {request_id} final",
            explain=run.log_tail,
        )
        assert status == "COMPLETED"
        assert served(bind_server, domain) == ["192.0.2.20"]
        with engine.connect() as conn:
            key, source = conn.execute(
                text("SELECT message_key, source FROM dns_requests WHERE id = :id"), {"id": request_id}
            ).one()
        assert (key, source) == ("team-k", "kafka")

        events = await run.read_all(run.events_topic, expected=3, timeout=60)
        statuses = [json.loads(r.value)["status"] for r in events if r.key == request_id.encode()]
        assert statuses == ["PENDING", "IN_PROGRESS", "COMPLETED"]
    finally:
        run.stop_all()


def _status(engine: Engine, request_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT status FROM dns_requests WHERE id = :id"), {"id": request_id}
        ).scalar()
