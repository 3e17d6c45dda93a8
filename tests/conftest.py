"""Session-wide fixtures, and how `pytest -n 2` (README's test command) shares the work out."""

from __future__ import annotations

import os

import pytest

from devstack.postgres import ensure_system_user

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.bind", "tests.fixtures.kafka"]

KAFKA_FIXTURES = {"kafka_broker", "apache_kafka", "tansu_broker", "kafka_libs_dir"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs a Kafka broker runs on one xdist worker (`--dist loadgroup`), so each
    broker (a JVM for Apache Kafka) starts once; the others are spread over the workers."""
    for item in items:
        if KAFKA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("kafka"))


def pytest_configure(config: pytest.Config) -> None:
    """Create what the suite needs from the machine once, in the controller, before xdist starts its
    workers: two workers that both found no PostgreSQL system user both ran `useradd`, and one of
    them then ran initdb as a uid that no longer existed (devstack/postgres.py)."""
    if hasattr(config, "workerinput"):
        return
    if os.geteuid() == 0:
        ensure_system_user()
