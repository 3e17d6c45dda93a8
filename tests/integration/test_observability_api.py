"""The API's `/metrics` on a real PostgreSQL: requests by status and source, and the Kafka figures
kept in the database (dead letters, unpublished events), read at scrape time."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from api.main import create_app
from dnsorch.settings import Settings

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
    with TestClient(create_app(Settings(database_url=database_url, temporal_address="127.0.0.1:1"))) as api:
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
