"""A value PostgreSQL refuses after validation let it through: the request is refused (422 /
dead letter), and since the row and the queued start are one transaction, nothing is stored and no
workflow starts: nothing is half-accepted."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer
from dnsorch import migrate
from dnsorch.contracts import InvalidRequest
from dnsorch.requests import AcceptService, CreateDnsRequest, idempotency_request_id
from dnsorch.settings import Settings
from dnsorch.store import make_engine
from dnsorch.temporal import ProvisioningGateway

pytestmark = pytest.mark.integration


async def test_a_row_postgresql_refuses_is_refused_and_starts_nothing(
    postgres_server: LocalPostgres, temporal_server: TemporalDevServer
) -> None:
    postgres_server.ensure_database("unstorable")
    url = postgres_server.url("unstorable")
    migrate.upgrade(url)
    narrowing = create_engine(url)
    with narrowing.begin() as conn:  # a column narrower than validation assumes: a real DataError
        conn.execute(text("ALTER TABLE dns_requests ALTER COLUMN target TYPE varchar(8)"))
    narrowing.dispose()

    settings = Settings(
        database_url=url, temporal_address=temporal_server.address, temporal_task_queue=f"none-{uuid.uuid4()}"
    )
    engine = make_engine(url)
    client = await Client.connect(temporal_server.address)
    service = AcceptService(engine, ProvisioningGateway(client, settings.temporal_task_queue), settings)
    body = CreateDnsRequest.model_validate(
        {
            "context": {"account_id": "acct-unstorable"},
            "resource": {"record_type": "A", "domain": "narrow.example.test", "target": "192.0.2.100"},
        }
    )
    key = f"k-{uuid.uuid4()}"
    try:
        with pytest.raises(InvalidRequest, match="cannot be stored") as refused:
            await service.create(body, source="api", idempotency_key=key)
        assert refused.value.field == "request"

        await service.starter.close()
        request_id = idempotency_request_id("acct-unstorable", key)
        with pytest.raises(RPCError) as missing:
            await client.get_workflow_handle(f"dns-request-{request_id}").describe()
        assert missing.value.status == RPCStatusCode.NOT_FOUND
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM dns_requests")).scalar_one()
            queued = conn.execute(text("SELECT count(*) FROM workflow_starts")).scalar_one()
        assert (rows, queued) == (0, 0)

        # A retry (a Kafka redelivery, a client's) is refused the same way and starts nothing new.
        with pytest.raises(InvalidRequest, match="cannot be stored"):
            await service.create(body, source="api", idempotency_key=key)
    finally:
        engine.dispose()
