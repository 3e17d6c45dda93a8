"""The answer to an accepted create is its row as stored. When the accepting call wrote the row it
answers what it wrote without reading it back (a PostgreSQL round trip less per accept); when an
earlier call accepted it (a retry with the same key), the answer is read from PostgreSQL, as the
workflow has left it since."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from temporalio.client import Client

from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer
from dnsorch import migrate
from dnsorch.requests import AcceptService, CreateDnsRequest
from dnsorch.settings import Settings
from dnsorch.store import make_engine
from dnsorch.store.models import DnsRequest
from dnsorch.temporal import ProvisioningGateway

pytestmark = pytest.mark.integration


def body() -> CreateDnsRequest:
    return CreateDnsRequest.model_validate(
        {
            "context": {"account_id": "acct-answer"},
            "resource": {
                "record_type": "A",
                "domain": f"a{uuid.uuid4().hex[:8]}.example.test",
                "target": "192.0.2.7",
            },
        }
    )


def columns(row: DnsRequest) -> dict[str, Any]:
    return {name: getattr(row, name) for name in DnsRequest.model_fields}


@pytest.fixture
async def accepting(postgres_server: LocalPostgres, temporal_server: TemporalDevServer):  # type: ignore[no-untyped-def]
    postgres_server.ensure_database("accept_answer")
    url = postgres_server.url("accept_answer")
    migrate.upgrade(url)
    # No worker polls this queue: the workflows stay as they were started.
    settings = Settings(
        database_url=url, temporal_address=temporal_server.address, temporal_task_queue=f"none-{uuid.uuid4()}"
    )
    engine = make_engine(url)
    gateway = ProvisioningGateway(await Client.connect(temporal_server.address), settings.temporal_task_queue)
    yield engine, gateway, settings
    engine.dispose()


def statements_during(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, sql, *rest: seen.append(sql))
    return seen


def stored(engine: Engine, request_id: str) -> DnsRequest:
    with engine.connect() as conn:
        row = conn.execute(select(DnsRequest).where(DnsRequest.id == uuid.UUID(request_id))).one()
    return DnsRequest(**row._asdict())


async def test_a_row_the_call_wrote_is_answered_as_stored_without_reading_it_back(accepting) -> None:  # type: ignore[no-untyped-def]
    engine, gateway, settings = accepting
    service = AcceptService(engine, gateway, settings)
    accepted = await service.create(body(), source="api")
    seen = statements_during(engine)
    answer, record = await service.read_accepted(accepted)
    assert seen == []
    assert record is None
    assert columns(answer) == columns(stored(engine, accepted.request_id))


async def test_a_retry_is_read_as_the_workflow_left_the_row(accepting) -> None:  # type: ignore[no-untyped-def]
    engine, gateway, settings = accepting
    service = AcceptService(engine, gateway, settings)
    sent = body()
    first = await service.create(sent, source="api", idempotency_key=f"k-{uuid.uuid4()}")
    assert first.spec is not None and first.spec.idempotency_key is not None
    with engine.begin() as conn:  # the workflow moved on since
        conn.execute(
            text("UPDATE dns_requests SET status = 'IN_PROGRESS' WHERE id = :id"), {"id": first.request_id}
        )
    again = await service.create(sent, source="api", idempotency_key=first.spec.idempotency_key)
    assert (again.request_id, again.created) == (first.request_id, False)
    answer, _ = await service.read_accepted(again)
    assert answer.status == "IN_PROGRESS"
    assert columns(answer) == columns(stored(engine, again.request_id))
