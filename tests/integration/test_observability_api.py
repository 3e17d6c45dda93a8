"""The API's `/metrics` on a real PostgreSQL: requests by status and source, and the Kafka figures
kept in the database (dead letters, unpublished events), read at scrape time."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, event, text

from api.main import create_app
from dnsorch.settings import Settings
from tests.fixtures.waiting import eventually_sync

pytestmark = pytest.mark.integration


def insert_request(engine: Engine, source: str, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO dns_requests"
                " (id, account_id, source, record_type, domain, target, config, status) VALUES"
                " (:id, 'acct-metrics', :source, 'A', 'm.example.test', '192.0.2.7', '{}', :status)"
            ),
            {"id": uuid.uuid4(), "source": source, "status": status},
        )


def figures(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_requests_by_status_and_source_come_from_postgresql_at_scrape_time(
    database_url: str, engine: Engine
) -> None:
    source = f"obs{uuid.uuid4().hex[:8]}"  # the session's database is shared: a source of our own
    settings = Settings(database_url=database_url, temporal_address="127.0.0.1:1", metrics_cache_seconds=0)
    with TestClient(create_app(settings)) as api:
        pending = ("dnsorch_requests", frozenset({("status", "PENDING"), ("source", source)}))
        assert pending not in figures(api)

        insert_request(engine, source, "PENDING")
        insert_request(engine, source, "PENDING")
        insert_request(engine, source, "COMPLETED")
        now = figures(api)
        assert now[pending] == 2
        assert now[("dnsorch_requests", frozenset({("status", "COMPLETED"), ("source", source)}))] == 1

        with engine.connect() as conn:
            dead_letters = conn.execute(text("SELECT count(*) FROM dead_letters")).scalar_one()
            unpublished = conn.execute(
                text("SELECT count(*) FROM request_events WHERE published_at IS NULL")
            ).scalar_one()
        assert now[("dnsorch_dead_letters", frozenset())] == dead_letters
        assert now[("dnsorch_events_unpublished", frozenset())] == unpublished


def test_queued_workflow_starts_and_the_oldest_ones_age_come_from_postgresql(
    database_url: str, engine: Engine
) -> None:
    """While Temporal cannot be reached, accepted requests wait in the outbox: operators see how
    many, and for how long."""
    request_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO dns_requests"
                " (id, account_id, source, record_type, domain, target, config, status) VALUES"
                " (:id, 'acct-metrics', 'api', 'A', 'q.example.test', '192.0.2.8', '{}', 'PENDING')"
            ),
            {"id": request_id},
        )
        conn.execute(
            text(
                "INSERT INTO workflow_starts (request_id, input, queued_at, next_attempt_at, attempts)"
                " VALUES (:id, '{}', now() - interval '90 seconds', now() + interval '1 hour', 0)"
            ),
            {"id": request_id},
        )
    settings = Settings(database_url=database_url, temporal_address="127.0.0.1:1", metrics_cache_seconds=0)
    try:
        with TestClient(create_app(settings)) as api:
            now = figures(api)
            assert now[("dnsorch_workflow_starts_queued", frozenset())] >= 1
            assert now[("dnsorch_workflow_starts_oldest_seconds", frozenset())] >= 90
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM workflow_starts WHERE request_id = :id"), {"id": request_id})


def test_scrapes_however_frequent_read_postgresql_at_most_once_per_cache_period(
    database_url: str, engine: Engine
) -> None:
    """`/metrics` needs no key: a scraper (or anyone) hammering it must not load PostgreSQL."""
    settings = Settings(database_url=database_url, temporal_address="127.0.0.1:1", metrics_cache_seconds=2)
    with TestClient(create_app(settings)) as api:
        grouped: list[str] = []

        def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
            if "GROUP BY" in statement:
                grouped.append(statement)

        event.listen(api.app.state.engine, "before_cursor_execute", count)
        source = f"cache{uuid.uuid4().hex[:8]}"
        insert_request(engine, source, "PENDING")
        first = figures(api)
        key = ("dnsorch_requests", frozenset({("status", "PENDING"), ("source", source)}))
        assert first[key] == 1
        insert_request(engine, source, "PENDING")
        for _ in range(100):
            assert figures(api)[key] == 1  # served from the cache
        assert len(grouped) == 1
        # ... and fresh again once the period has passed
        eventually_sync(
            lambda: figures(api)[key], lambda seen: seen == 2, timeout=10, what="figures refreshed"
        )
        assert len(grouped) == 2
