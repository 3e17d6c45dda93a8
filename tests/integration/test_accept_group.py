"""The Kafka consumer's group commit against real PostgreSQL (AcceptService.prepare_many, store_many,
finish): a group's requests are stored in one transaction with the rows `create` writes, a
redelivered id in the group is the same request, a reused id with another body is refused, and a
value PostgreSQL refuses stores nothing of its group."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text

from dnsorch.contracts import IdempotencyConflict, InvalidRequest, ProvisioningInput
from dnsorch.requests import AcceptService, CreateCall, CreateDnsRequest
from dnsorch.settings import Settings
from tests.fixtures.kept_starts import KeptStarts

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, temporal_address="127.0.0.1:1", dns_zones=["example.test"])


def call(domain: str, account: str, request_id: str, target: str = "192.0.2.44") -> CreateCall:
    body = CreateDnsRequest.model_validate(
        {
            "context": {"account_id": account},
            "resource": {"record_type": "A", "domain": domain, "target": target},
        }
    )
    return CreateCall(body, request_id, message_key=domain)


def rows(engine: Engine, account: str) -> list[tuple[str, str, int, int, int]]:
    """(id, status, event_seq, events, queued starts) per request of `account`, in accept order."""
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT r.id::text, r.status, r.event_seq,"
                " (SELECT count(*) FROM request_events e WHERE e.request_id = r.id),"
                " (SELECT count(*) FROM workflow_starts s WHERE s.request_id = r.id)"
                " FROM dns_requests r WHERE r.account_id = :a ORDER BY r.created_at, r.id"
            ),
            {"a": account},
        ).all()
    return [tuple(row) for row in found]  # type: ignore[misc]


async def test_a_group_is_stored_together_in_offset_order_and_a_repeated_id_is_one_request(
    engine: Engine, settings: Settings
) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    kept = KeptStarts()
    accept = AcceptService(engine, kept, settings)  # type: ignore[arg-type]
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    calls = [call(f"g{i}-{account}.example.test", account, str(uuid.uuid4())) for i in range(5)]
    calls[1] = call(f"a-{account}.example.test", account, first)
    calls[2] = call(f"a-{account}.example.test", account, first)  # the same message twice in one group
    calls[3] = call(f"b-{account}.example.test", account, second)
    calls[4] = call(f"c-{account}.example.test", account, second)  # its id reused for another request

    prepared = await accept.prepare_many(calls, "kafka")
    assert all(isinstance(outcome, ProvisioningInput) for outcome in prepared)
    batch = [outcome for outcome in prepared if isinstance(outcome, ProvisioningInput)]
    stored = await accept.store_many(batch)
    assert [payload is not None for payload in stored] == [True, True, False, True, False]

    created = [
        (await accept.finish(params, written)).created
        for params, written in zip(batch[:4], stored[:4], strict=True)
    ]
    assert created == [True, True, False, True]
    with pytest.raises(IdempotencyConflict):
        await accept.finish(batch[4], stored[4])

    started = await kept.until(3)
    assert sorted(p.request.request_id for p in started) == sorted([calls[0].request_id, first, second])
    assert len(kept.started) == 3, "a request stored once was started twice"
    assert [row[0] for row in rows(engine, account)] == [calls[0].request_id, first, second], (
        "accept order is not offset order"
    )
    # The rows `create` writes: PENDING, its first event in the outbox, its start queued (until the
    # start deletes it).
    assert all(row[1:4] == ("PENDING", 1, 1) for row in rows(engine, account))


async def test_a_value_postgresql_refuses_stores_nothing_of_its_group_and_its_neighbours_store_alone(
    engine: Engine, settings: Settings
) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    accept = AcceptService(engine, KeptStarts(), settings)  # type: ignore[arg-type]
    calls = [call(f"n{i}-{account}.example.test", account, str(uuid.uuid4())) for i in range(3)]
    prepared = await accept.prepare_many(calls, "kafka")
    batch = [outcome for outcome in prepared if isinstance(outcome, ProvisioningInput)]
    batch[1].request.record_type = "X" * 40  # validation would refuse it; here it reaches PostgreSQL

    with pytest.raises(InvalidRequest, match="cannot be stored"):
        await accept.store_many(batch)
    assert rows(engine, account) == []

    assert [payload is not None for payload in await accept.store_many([batch[0]])] == [True]
    with pytest.raises(InvalidRequest):
        await accept.store_many([batch[1]])
    assert [payload is not None for payload in await accept.store_many([batch[2]])] == [True]
    assert [row[0] for row in rows(engine, account)] == [calls[0].request_id, calls[2].request_id]
