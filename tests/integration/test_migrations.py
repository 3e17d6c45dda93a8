"""Alembic migrations on a real PostgreSQL: up, down to nothing, and up again."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from devstack.postgres import LocalPostgres
from dnsorch import migrate

pytestmark = pytest.mark.integration


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(postgres_server: LocalPostgres) -> None:
    postgres_server.ensure_database("migrations_check")
    url = postgres_server.url("migrations_check")

    migrate.upgrade(url)
    assert {"dns_requests", "dns_records", "api_keys", "alembic_version"} <= tables(url)
    engine = create_engine(url)
    columns = {c["name"] for c in inspect(engine).get_columns("dns_requests")}
    indexes = {i["name"] for i in inspect(engine).get_indexes("dns_requests")}
    engine.dispose()
    assert {
        "id",
        "account_id",
        "source",
        "record_type",
        "domain",
        "target",
        "comment",
        "config",
        "status",
        "log_messages",
        "workflow_id",
        "created_at",
        "updated_at",
    } <= columns
    assert "ix_dns_requests_status" in indexes

    migrate.downgrade(url, "base")
    assert tables(url) <= {"alembic_version"}

    migrate.upgrade(url)
    assert {"dns_requests", "dns_records"} <= tables(url)
