"""The answer to an accepted create is its row as stored. When the accepting call wrote the row it
answers what it wrote without reading it back (a PostgreSQL round trip less per accept); when the
workflow wrote the row first, the answer is read from PostgreSQL, as the workflow left it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from temporalio.client import Client

from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer
from dnsorch import migrate
from dnsorch.contracts import DnsRequestSpec
from dnsorch.requests import AcceptService, CreateDnsRequest
from dnsorch.settings import Settings
from dnsorch.store import make_engine
from dnsorch.store.models import DnsRequest
from dnsorch.store.request_rows import insert_request
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


class WorkflowWroteFirst(AcceptService):
    """The workflow's first status reached PostgreSQL before the accepting call's row."""

    def _insert_row(self, spec: DnsRequestSpec) -> bool:
        assert spec.accepted_at is not None
        with self.engine.begin() as conn:
            insert_request(conn, spec, spec.accepted_at)
            conn.execute(
                text("UPDATE dns_requests SET status = 'IN_PROGRESS' WHERE id = :id"), {"id": spec.request_id}
            )
        return super()._insert_row(spec)


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


async def test_a_row_the_workflow_wrote_first_is_read_as_the_workflow_left_it(accepting) -> None:  # type: ignore[no-untyped-def]
    engine, gateway, settings = accepting
    service = WorkflowWroteFirst(engine, gateway, settings)
    accepted = await service.create(body(), source="api")
    answer, _ = await service.read_accepted(accepted)
    assert answer.status == "IN_PROGRESS"
    assert columns(answer) == columns(stored(engine, accepted.request_id))
