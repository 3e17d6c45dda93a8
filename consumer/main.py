"""`dnsorch consumer`: the Kafka ingest loop and the status-event publisher, in one process."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiokafka import AIOKafkaConsumer

from consumer.events import EventPublisher
from consumer.ingest import Ingestor
from consumer.lanes import MAX_LANES
from consumer.metrics import start_metrics_server
from consumer.producer import start_producer
from dnsorch import telemetry, temporal
from dnsorch.kafka_client import client_options
from dnsorch.requests import AcceptService
from dnsorch.settings import Settings
from dnsorch.store import make_engine
from dnsorch.temporal import ProvisioningGateway

log = logging.getLogger(__name__)


def make_consumer(settings: Settings) -> AIOKafkaConsumer:
    """Not yet subscribed: the ingestor subscribes with its rebalance listener (consumer/lanes.py)."""
    return AIOKafkaConsumer(
        **client_options(settings),
        group_id=settings.kafka_group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_partition_fetch_bytes=max(1_048_576, settings.kafka_max_message_bytes * 2),
    )


def main(settings: Settings) -> None:
    """`dnsorch consumer` (dnsorch/cli/dispatch.py dispatches here)."""
    asyncio.run(run_consumer(settings))


async def run_consumer(settings: Settings, *, publish_events: bool = True) -> None:
    """Run until SIGTERM/SIGINT: finish each partition's group in hand, commit, leave the group."""
    telemetry.configure_tracing(settings, "consumer")
    engine = make_engine(settings.database_url, threads=MAX_LANES)
    client = await temporal.connect(settings, lazy=True)
    accept = AcceptService(engine, ProvisioningGateway(client, settings.temporal_task_queue), settings)
    producer, idempotent = await start_producer(settings)
    consumer = make_consumer(settings)
    ingestor = Ingestor(settings, accept, consumer, producer)
    consumer.subscribe([settings.kafka_requests_topic], listener=ingestor.lanes)
    await consumer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [
        asyncio.create_task(ingestor.run(stop), name="ingest"),
        # Starts what was accepted and left behind (by a process that died, or while Temporal was down).
        asyncio.create_task(accept.starter.run(stop), name="outbox-sweep"),
    ]
    publisher = None
    if publish_events:
        publisher = EventPublisher(engine, producer, settings.kafka_events_topic)
        tasks.append(asyncio.create_task(publisher.run(stop), name="publish-events"))
    metrics_server = start_metrics_server(settings, ingestor.stats, publisher)
    log.info(
        "consuming %s as group %s from %s (idempotent producer: %s)",
        settings.kafka_requests_topic,
        settings.kafka_group_id,
        settings.kafka_bootstrap_servers,
        "yes" if idempotent else "no",
    )
    accounts = settings.kafka_requests_accounts
    if "*" in accounts:
        # A warning wherever it can hurt; the dev stack sets it on purpose, so there it is information
        # (a newcomer's first `make run` shows no WARNING line, issue 21).
        log.log(
            logging.INFO if settings.env == "dev" else logging.WARNING,
            "messages on %s may act for ANY account (KAFKA_REQUESTS_ACCOUNTS=*): whoever can write the"
            " topic acts as every account%s",
            settings.kafka_requests_topic,
            "; the broker has no authentication" if settings.kafka_security_protocol == "PLAINTEXT" else "",
        )
    else:
        log.info("messages on %s may act for: %s", settings.kafka_requests_topic, ", ".join(accounts))
    try:
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        await accept.starter.close()
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stats = ingestor.stats
        log.info(
            "consumer stopped: consumed=%d accepted=%d dead_lettered=%d duplicates=%d",
            stats.consumed,
            stats.accepted,
            stats.dead_lettered,
            stats.duplicates,
        )
        await consumer.stop()  # leaves the group, so partitions move at once
        await producer.stop()
        metrics_server.close()
        engine.dispose()
