"""One Idempotency-Key, one body: only the caller that started the workflow writes the request's row,
so a concurrent caller with another body can never make the row disagree with the workflow."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client
from temporalio.service import RPCError

from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer
from dnsorch import migrate
from dnsorch.contracts import IdempotencyConflict
from dnsorch.requests import AcceptService, CreateDnsRequest, idempotency_request_id
from dnsorch.settings import Settings
from dnsorch.store import make_engine
from dnsorch.temporal import ProvisioningGateway
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration
ACCOUNT = "acct-idem"


def body(target: str) -> CreateDnsRequest:
    return CreateDnsRequest.model_validate(
        {
            "context": {"account_id": ACCOUNT},
            "resource": {"record_type": "A", "domain": "idem.example.test", "target": target},
        }
    )


class SlowFirstWriter(AcceptService):
    """The first caller: it has started the workflow but its row write is held back."""

    def __init__(self, engine: Engine, client: Client, settings: Settings, release: threading.Event):
        super().__init__(engine, ProvisioningGateway(client, settings.temporal_task_queue), settings)
        self.release = release

    def _insert_row(self, spec):  # type: ignore[no-untyped-def]
        self.release.wait(timeout=30)
        super()._insert_row(spec)


async def test_two_bodies_under_one_key_never_both_accepted(
    postgres_server: LocalPostgres, temporal_server: TemporalDevServer
) -> None:
    postgres_server.ensure_database("idempotency")
    url = postgres_server.url("idempotency")
    migrate.upgrade(url)
    # No worker polls this queue: the workflow stays as it was started, holding body A.
    settings = Settings(
        database_url=url, temporal_address=temporal_server.address, temporal_task_queue=f"none-{uuid.uuid4()}"
    )
    engine = make_engine(url)
    client = await Client.connect(temporal_server.address)
    release = threading.Event()
    first = SlowFirstWriter(engine, client, settings, release)
    second = AcceptService(engine, ProvisioningGateway(client, settings.temporal_task_queue), settings)
    key = f"k-{uuid.uuid4()}"
    request_id = idempotency_request_id(ACCOUNT, key)
    try:
        accepting_a = asyncio.create_task(first.create(body("192.0.2.1"), source="api", idempotency_key=key))
        handle = client.get_workflow_handle(f"dns-request-{request_id}")
        await eventually(
            lambda: handle.describe(),
            timeout=10,
            interval=0.05,
            ignoring=(RPCError,),
            what="the first caller's workflow",
        )

        with pytest.raises(IdempotencyConflict):  # B is refused even before A's row is written
            await second.create(body("203.0.113.9"), source="api", idempotency_key=key)

        release.set()
        accepted_a = await accepting_a
        assert accepted_a.created
        with engine.connect() as conn:
            target = conn.execute(
                text("SELECT target FROM dns_requests WHERE id = :id"), {"id": request_id}
            ).scalar_one()
        assert target == "192.0.2.1", "the row holds another body than the workflow provisions"

        with pytest.raises(IdempotencyConflict):  # once A's row is there, B is a clear 409
            await second.create(body("203.0.113.9"), source="api", idempotency_key=key)
        again = await second.create(body("192.0.2.1"), source="api", idempotency_key=key)
        assert (again.request_id, again.created) == (request_id, False)
    finally:
        release.set()
        engine.dispose()
