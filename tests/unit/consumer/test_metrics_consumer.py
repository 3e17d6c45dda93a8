"""The consumer's metrics endpoint: IngestStats and the publisher's count as Prometheus series, and
an endpoint that cannot bind (or is turned off) never stops the consumer."""

from __future__ import annotations

import logging
import socket
import urllib.request
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from consumer.lanes import IngestStats
from consumer.metrics import start_metrics_server
from dnsorch.settings import Settings
from tests.fixtures.servers import free_port


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_ingest_figures_lag_and_published_events_are_served_as_they_change() -> None:
    stats = IngestStats(consumed=12, accepted=8, dead_lettered=2, duplicates=1, retries=3)
    stats.lag_by_partition = {("dns_requests", 0): 5, ("dns_requests", 3): 0}
    publisher = SimpleNamespace(published=7)
    server = start_metrics_server(Settings(consumer_metrics_port=free_port()), stats, publisher)
    try:
        assert server.port is not None
        figures = scrape(server.port)
        assert figures[("dnsorch_kafka_consumed_total", ())] == 12
        assert figures[("dnsorch_kafka_accepted_total", ())] == 8
        assert figures[("dnsorch_kafka_dead_lettered_total", ())] == 2
        assert figures[("dnsorch_kafka_duplicates_total", ())] == 1
        assert figures[("dnsorch_kafka_retries_total", ())] == 3
        assert figures[("dnsorch_events_published_total", ())] == 7
        lag = "dnsorch_kafka_consumer_lag"
        assert figures[(lag, (("partition", "0"), ("topic", "dns_requests")))] == 5
        assert figures[(lag, (("partition", "3"), ("topic", "dns_requests")))] == 0

        stats.accepted += 1
        stats.lag_by_partition = {("dns_requests", 3): 4}  # partition 0 was revoked
        publisher.published = 9
        figures = scrape(server.port)
        assert figures[("dnsorch_kafka_accepted_total", ())] == 9
        assert figures[("dnsorch_events_published_total", ())] == 9
        assert [key for key in figures if key[0] == lag] == [
            (lag, (("partition", "3"), ("topic", "dns_requests")))
        ]
    finally:
        server.close()


def test_a_port_already_taken_is_logged_and_the_consumer_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="consumer.metrics"):
            server = start_metrics_server(Settings(consumer_metrics_port=port), IngestStats(), None)
    assert server.port is None
    server.close()
    assert f"consumer metrics endpoint 127.0.0.1:{port} not started" in caplog.text


def test_port_zero_turns_the_endpoint_off() -> None:
    server = start_metrics_server(Settings(consumer_metrics_port=0), IngestStats(), None)
    assert server.port is None
