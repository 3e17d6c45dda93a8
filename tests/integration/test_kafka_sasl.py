"""A secured broker: Apache Kafka whose client listener takes SASL/PLAIN logins only. The consumer
logs in with the user and password file of its settings; a client without a login gets nowhere."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import Engine

from devstack.kafka import ensure_topics
from devstack.kafka_apache import ApacheKafkaBroker
from devstack.temporal import TemporalDevServer
from dnsorch.kafka_client import security_options
from dnsorch.settings import Settings
from tests.fixtures.kafka_tools import KafkaRun, create_message
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.integration
PASSWORD = f"pw-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def sasl_kafka(tmp_path_factory: pytest.TempPathFactory, kafka_libs_dir: Path) -> Iterator[ApacheKafkaBroker]:
    state = tmp_path_factory.mktemp("kafka-sasl")
    broker = ApacheKafkaBroker(
        state / "data",
        port=free_port(),
        libs_dir=kafka_libs_dir,
        log_file=state / "kafka.log",
        sasl_users={"dnsorch": PASSWORD},
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_the_consumer_logs_in_with_sasl_and_an_anonymous_client_is_refused(
    sasl_kafka: ApacheKafkaBroker,
    database_url: str,
    temporal_server: TemporalDevServer,
    engine: Engine,
    tmp_path: Path,
) -> None:
    password_file = tmp_path / "kafka-password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)
    login = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": "dnsorch",
        "KAFKA_SASL_PASSWORD_FILE": str(password_file),
    }
    env = {
        "ENV": "test",
        "STATE_DIR": str(tmp_path / "state"),
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_server.address,
        "TEMPORAL_TASK_QUEUE": f"sasl-{uuid.uuid4().hex[:6]}",
        "DNS_ZONES": "example.test",
        "CONSUMER_METRICS_PORT": "0",
        **login,
    }
    run = KafkaRun(sasl_kafka.bootstrap, env, tmp_path, partitions=1)
    settings = Settings.model_validate({key.lower(): value for key, value in login.items()})
    security = security_options(settings)
    assert security["sasl_plain_password"] == PASSWORD  # read from the file, not the environment
    try:
        topics = [run.requests_topic, run.dlq_topic, run.events_topic]
        await ensure_topics(sasl_kafka.bootstrap, topics, 1, security=security)
        run.start_consumer()

        producer = AIOKafkaProducer(bootstrap_servers=sasl_kafka.bootstrap, acks="all", **security)
        await producer.start()
        try:
            message = create_message("sasl.example.test", "192.0.2.77", run.account)
            await producer.send_and_wait(run.requests_topic, json.dumps(message).encode())
        finally:
            await producer.stop()

        await run.until_rows(engine, 1, timeout=90)

        anonymous = AIOKafkaProducer(bootstrap_servers=sasl_kafka.bootstrap, request_timeout_ms=5_000)
        with pytest.raises(KafkaError):
            await anonymous.start()
        await anonymous.stop()
        assert PASSWORD not in run.log_text()
    finally:
        run.stop_all()
