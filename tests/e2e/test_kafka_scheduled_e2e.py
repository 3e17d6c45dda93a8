"""A scheduled change through Kafka on the real stack (issue 26): a message with `not_before` waits
in SCHEDULED (read through the real API v2), untouched in DNS, and is served from its time."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.api_v2 import wait_v2
from tests.fixtures.dns import served
from tests.fixtures.kafka_tools import KafkaRun
from tests.fixtures.process_stack import ProcessStack

pytestmark = pytest.mark.e2e


async def test_a_scheduled_kafka_message_is_served_only_from_its_time(
    apache_kafka: Any, stack: ProcessStack, stack_env: dict[str, str], bind_server: Any, tmp_path: Path
) -> None:
    run = KafkaRun(apache_kafka.bootstrap, stack_env, tmp_path)
    await run.create_topics()
    domain = f"kafka-sched-{uuid.uuid4().hex[:6]}.example.test"
    request_id = str(uuid.uuid4())
    due = datetime.now(UTC) + timedelta(seconds=15)
    message = {
        "request_id": request_id,
        "context": {"account_id": "acct-kafka"},
        "resource": {"record_type": "A", "domain": domain, "target": "192.0.2.21"},
        "not_before": due.isoformat(),
    }
    await run.produce([json.dumps(message).encode()])
    try:
        run.start_consumer()
        waiting = wait_v2(stack, request_id, {"SCHEDULED"}, timeout=60)
        assert waiting["source"] == "kafka" and datetime.fromisoformat(waiting["not_before"]) == due
        assert served(bind_server, domain) == [], "applied before its time"
        done = wait_v2(stack, request_id, {"COMPLETED", "FAILED", "REJECTED", "NEEDS_ATTENTION"}, timeout=120)
        assert done["status"] == "COMPLETED", done["timeline"]
        assert served(bind_server, domain) == ["192.0.2.21"]
        planned = min(datetime.fromisoformat(e["at"]) for e in done["timeline"] if e["step"] == "plan")
        assert planned >= due
    finally:
        run.stop_all()
