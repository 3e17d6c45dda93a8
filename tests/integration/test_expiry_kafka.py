"""`expires_at` and `emergency` through Kafka (issue 26), as `not_before` already is: a message that
carries them is accepted with them; a time the accept path refuses, or an `emergency` that is not a
JSON boolean, is a dead letter whose reason names the field; and a message redelivered after its
`expires_at` passed is the request it made, not a dead letter.

Real Apache Kafka, PostgreSQL and Temporal (no provisioning worker polls the task queue); the
redelivery case drives the accept service with a stub Temporal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.api.common.v1 import Payload

from consumer.dead_letter import HEADER_REASON
from consumer.decode import MessageBody
from devstack.temporal import TemporalDevServer
from dnsorch.contracts import ProvisioningInput
from dnsorch.requests import AcceptService, request_hash
from dnsorch.settings import Settings
from dnsorch.store import request_rows
from tests.fixtures.kafka_tools import KafkaRun, create_message, ingest_only_env, json_bytes
from tests.fixtures.specs import request_spec

pytestmark = pytest.mark.integration


@pytest.fixture
def run(apache_kafka: Any, database_url: str, temporal_server: TemporalDevServer, tmp_path: Path) -> Any:
    env = ingest_only_env(database_url, temporal_server.address, tmp_path)
    kafka_run = KafkaRun(apache_kafka.bootstrap, env, tmp_path)
    try:
        yield kafka_run
    finally:
        kafka_run.stop_all()


def message(run: KafkaRun, label: str, **fields: object) -> bytes:
    body = create_message(f"{label}-{uuid.uuid4().hex[:6]}.example.test", "192.0.2.45", run.account)
    return json_bytes({**body, "request_id": str(uuid.uuid4()), **fields})


async def test_expires_at_and_emergency_are_accepted_from_kafka_and_bad_values_are_dead_letters(
    run: KafkaRun, engine: Engine
) -> None:
    expires_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    expiring = message(run, "exp", expires_at=expires_at.isoformat())
    urgent = message(run, "urgent", emergency=True)
    refused = {
        message(run, "naive", expires_at="2030-01-01T10:00:00"): ("expires_at", "needs a UTC offset"),
        message(run, "past", expires_at="2020-01-01T10:00:00Z"): ("expires_at", "has passed"),
        message(run, "garbage", expires_at="next tuesday"): ("expires_at", "wrong schema: expires_at"),
        message(run, "yes", emergency="yes"): ("emergency", "wrong schema: emergency"),
    }
    await run.create_topics()
    await run.produce([expiring, urgent, *refused])
    run.start_consumer("expiry")
    rows = await run.until_rows(engine, 2)
    dead = await run.read_all(run.dlq_topic, expected=len(refused))
    reasons = {record.value: dict(record.headers)[HEADER_REASON].decode() for record in dead}
    for value, (field, reason) in refused.items():
        assert field in reasons[value] and reason in reasons[value], reasons[value]
    assert run.stop("expiry") == 0
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT domain, expires_at, config FROM dns_requests WHERE id = ANY(:ids)"),
            {"ids": [uuid.UUID(str(r)) for r in rows]},
        ).all()
    by_label = {domain.split("-")[0]: (when, config) for domain, when, config in stored}
    assert by_label["exp"][0] == expires_at
    assert by_label["urgent"][1].get("emergency") is True and by_label["exp"][1].get("emergency") is None


class KeptStarts:
    """Temporal as accepting sees it; `existing`: the workflow was started before (a redelivery)."""

    def __init__(self, existing: bool) -> None:
        self.existing = existing
        self.started: list[ProvisioningInput] = []

    async def start(self, params: ProvisioningInput, *, payload: Payload | None = None) -> bool:
        self.started.append(params)
        return not self.existing


async def test_a_message_redelivered_after_its_expiry_passed_is_the_request_it_made(
    engine: Engine, database_url: str
) -> None:
    """A consumer that dies before its commit reads the message again, maybe after `expires_at`:
    the request was accepted (its record may even be deleted by now); no dead letter."""
    passed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    body = MessageBody.model_validate(
        {
            "context": {"account_id": "acct-42"},
            "resource": {
                "record_type": "A",
                "domain": f"redo-{uuid.uuid4().hex[:6]}.example.test",
                "target": "192.0.2.46",
            },
            "expires_at": passed.isoformat(),
        }
    )
    spec = request_spec(
        domain=body.resource.domain,
        target=body.resource.target,
        expires_at=passed,
        source="kafka",
        request_hash=request_hash(body, "create"),
    )
    with engine.begin() as conn:  # accepted when that time was still ahead
        request_rows.insert_request(conn, spec, datetime.now(UTC) - timedelta(hours=1))
    settings = Settings(database_url=database_url, dns_zones=["example.test"])
    accept = AcceptService(engine, KeptStarts(existing=True), settings)  # type: ignore[arg-type]
    again = await accept.create(body, source="kafka", request_id=spec.request_id, expires_at=body.expires_at)
    assert (again.request_id, again.created) == (spec.request_id, False)
