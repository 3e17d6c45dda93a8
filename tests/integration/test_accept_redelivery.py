"""A Kafka message redelivered after its request completed (the consumer died before committing its
offset) is the same request: counted as a duplicate, never judged again against the records it
made itself and dead-lettered ("already exists"). Seen in the full suite once accepting got fast
enough for a request to complete before its redelivery."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from dnsorch.contracts import RecordExists, RecordRow
from dnsorch.requests import AcceptService, CreateDnsRequest
from dnsorch.settings import Settings
from dnsorch.store import served_records
from tests.fixtures.kept_starts import KeptStarts

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, temporal_address="127.0.0.1:1", dns_zones=["example.test"])


def body(domain: str, account: str) -> CreateDnsRequest:
    return CreateDnsRequest.model_validate(
        {
            "context": {"account_id": account},
            "resource": {"record_type": "A", "domain": domain, "target": "192.0.2.44"},
        }
    )


async def test_a_redelivered_create_whose_record_is_stored_is_a_duplicate(
    engine: Engine, settings: Settings
) -> None:
    account, domain = f"acct-{uuid.uuid4().hex[:8]}", f"redelivered-{uuid.uuid4().hex[:8]}.example.test"
    accept = AcceptService(engine, KeptStarts(), settings)  # type: ignore[arg-type]
    request_id = str(uuid.uuid4())
    first = await accept.create(body(domain, account), source="kafka", request_id=request_id)
    assert first.created
    row = RecordRow(
        request_id, "A", domain, "192.0.2.44", 300, None, None, datetime.now(UTC), "create", account
    )
    with engine.begin() as conn:  # its workflow completed: the record is stored
        served_records.apply_record(conn, row)

    again = await accept.create(body(domain, account), source="kafka", request_id=request_id)
    assert (again.request_id, again.created) == (request_id, False)

    with pytest.raises(RecordExists):  # another message creating the same name is still refused
        await accept.create(body(domain, account), source="kafka", request_id=str(uuid.uuid4()))
