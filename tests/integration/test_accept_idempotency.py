"""One Idempotency-Key, one body: the row and the queued start commit in one transaction under the
key's request id, so of two callers with different bodies exactly one is accepted, and the row and
the workflow both hold that one's body."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from temporalio.client import Client

from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer
from dnsorch import migrate
from dnsorch.contracts import IdempotencyConflict
from dnsorch.requests import Accepted, AcceptService, CreateDnsRequest, idempotency_request_id
from dnsorch.settings import Settings
from dnsorch.store import make_engine
from dnsorch.temporal import ProvisioningGateway

pytestmark = pytest.mark.integration
ACCOUNT = "acct-idem"


def body(target: str) -> CreateDnsRequest:
    return CreateDnsRequest.model_validate(
        {
            "context": {"account_id": ACCOUNT},
            "resource": {"record_type": "A", "domain": "idem.example.test", "target": target},
        }
    )


async def test_two_bodies_under_one_key_never_both_accepted(
    postgres_server: LocalPostgres, temporal_server: TemporalDevServer
) -> None:
    postgres_server.ensure_database("idempotency")
    url = postgres_server.url("idempotency")
    migrate.upgrade(url)
    # No worker polls this queue: the workflow stays as it was started.
    settings = Settings(
        database_url=url, temporal_address=temporal_server.address, temporal_task_queue=f"none-{uuid.uuid4()}"
    )
    engine = make_engine(url)
    client = await Client.connect(temporal_server.address)
    first = AcceptService(engine, ProvisioningGateway(client, settings.temporal_task_queue), settings)
    second = AcceptService(engine, ProvisioningGateway(client, settings.temporal_task_queue), settings)
    key = f"k-{uuid.uuid4()}"
    request_id = idempotency_request_id(ACCOUNT, key)
    targets = ("192.0.2.1", "203.0.113.9")
    try:
        outcomes = await asyncio.gather(
            first.create(body(targets[0]), source="api", idempotency_key=key),
            second.create(body(targets[1]), source="api", idempotency_key=key),
            return_exceptions=True,
        )
        accepted = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, Accepted)]
        refused = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, IdempotencyConflict)]
        assert len(accepted) == 1 and len(refused) == 1, outcomes
        winner = targets[accepted[0]]
        await first.starter.close()
        await second.starter.close()

        with engine.connect() as conn:
            target = conn.execute(
                text("SELECT target FROM dns_requests WHERE id = :id"), {"id": request_id}
            ).scalar_one()
        assert target == winner
        started = await ProvisioningGateway(client, settings.temporal_task_queue).started(
            f"dns-request-{request_id}"
        )
        assert started.params.request.target == winner, "the workflow holds another body than the row"

        loser = targets[refused[0]]
        with pytest.raises(IdempotencyConflict):  # a retry of the refused body is refused again
            await second.create(body(loser), source="api", idempotency_key=key)
        again = await second.create(body(winner), source="api", idempotency_key=key)
        assert (again.request_id, again.created) == (request_id, False)
    finally:
        engine.dispose()
