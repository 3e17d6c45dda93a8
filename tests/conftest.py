"""Session-wide fixtures, and how `pytest -n 2` (README's test command) shares the work out."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.bind", "tests.fixtures.kafka"]

KAFKA_FIXTURES = {"kafka_broker", "apache_kafka", "tansu_broker", "kafka_libs_dir"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs a Kafka broker runs on one xdist worker (`--dist loadgroup`), so each
    broker (a JVM for Apache Kafka) starts once; the others are spread over the workers."""
    for item in items:
        if KAFKA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("kafka"))
