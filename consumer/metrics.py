"""The consumer's Prometheus endpoint (CONSUMER_METRICS_PORT): the ingest figures and the lag that
IngestStats keeps, and the events the publisher sent, read at scrape time.

The HTTP server runs in a thread of its own; it reads plain counters and a lag snapshot that the
ingest loop replaces whole, never the Kafka client itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    start_http_server,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from dnsorch.settings import Settings
from dnsorch.telemetry import metrics_address

if TYPE_CHECKING:
    from consumer.lanes import IngestStats

log = logging.getLogger(__name__)

_COUNTERS = (  # IngestStats attribute, metric name (exported with `_total`), help
    ("consumed", "dnsorch_kafka_consumed", "Request messages taken from the topic (a retry counts once)."),
    ("accepted", "dnsorch_kafka_accepted", "Messages that became a new request (workflow started)."),
    ("dead_lettered", "dnsorch_kafka_dead_lettered", "Messages sent to the dead-letter topic."),
    ("duplicates", "dnsorch_kafka_duplicates", "Redelivered messages that started nothing new."),
    ("retries", "dnsorch_kafka_retries", "Messages retried while PostgreSQL or Temporal was down."),
)


class Published(Protocol):
    published: int


class ConsumerCollector:
    def __init__(self, stats: IngestStats, publisher: Published | None) -> None:
        self.stats = stats
        self.publisher = publisher

    def collect(self) -> Iterator[Metric]:
        for attribute, name, documentation in _COUNTERS:
            yield CounterMetricFamily(name, documentation, value=getattr(self.stats, attribute))
        lag = GaugeMetricFamily(
            "dnsorch_kafka_consumer_lag",
            "High watermark minus the group's committed offset, per assigned partition.",
            labels=["topic", "partition"],
        )
        for (topic, partition), value in sorted(self.stats.lag_by_partition.items()):
            lag.add_metric([topic, str(partition)], value)
        yield lag
        if self.publisher is not None:
            yield CounterMetricFamily(
                "dnsorch_events_published",
                "Status events this process published to the events topic.",
                value=self.publisher.published,
            )


class MetricsServer:
    """The endpoint's HTTP server; `close()` stops it (a no-op when it never started)."""

    def __init__(self, server: WSGIServer | None = None) -> None:
        self._server = server

    @property
    def port(self) -> int | None:
        return self._server.server_port if self._server is not None else None

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def start_metrics_server(
    settings: Settings, stats: IngestStats, publisher: Published | None
) -> MetricsServer:
    """Serve the consumer's metrics; a port that cannot bind is logged, not fatal (0 turns it off)."""
    if not settings.consumer_metrics_port:
        return MetricsServer()
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    registry.register(ConsumerCollector(stats, publisher))
    address = metrics_address(settings.metrics_host, settings.consumer_metrics_port)
    try:
        server, _thread = start_http_server(
            settings.consumer_metrics_port, addr=settings.metrics_host, registry=registry
        )
    except OSError as error:
        log.warning("consumer metrics endpoint %s not started: %s", address, error)
        return MetricsServer()
    log.info("consumer metrics on http://%s/metrics", address)
    return MetricsServer(server)
