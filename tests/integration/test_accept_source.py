"""Who sent a request decides its `source`, never its body: the accept service takes the door's name,
and the REST routes name theirs (`api`). What accept checks fails closed: a submitter's request in a
reverse zone is refused, and so is every request whose managed-record check cannot read
PostgreSQL. PostgreSQL is the session's; Temporal is a stub that keeps what it was asked to start."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from dnsorch.contracts import ProtectedName, ServiceUnavailable
from dnsorch.requests import AcceptService, CreateDnsRequest, Door
from dnsorch.settings import Settings
from dnsorch.store import make_engine
from tests.fixtures.auth import act_as
from tests.fixtures.kept_starts import KeptStarts
from tests.fixtures.specs import fresh_name

NOWHERE = "postgresql+psycopg2://postgres@127.0.0.1:1/dnsorch"  # nothing listens on port 1
ZONES = ["example.test", "2.0.192.in-addr.arpa"]
INTERNAL_DOORS = ("drift", "ptr", "adoption")
pytestmark = pytest.mark.integration


def body(source: str | None = None, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"account_id": "acct-42"}
    if source is not None:
        context["source"] = source
    resource = {"record_type": "A", "domain": fresh_name("src"), "target": "192.0.2.10"}
    return {"context": context, "resource": resource, **extra}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, temporal_address="127.0.0.1:1", dns_zones=ZONES)


@pytest.fixture
def temporal() -> KeptStarts:
    return KeptStarts()


@pytest.fixture
def service(engine: Engine, settings: Settings, temporal: KeptStarts) -> AcceptService:
    return AcceptService(engine, temporal, settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("claimed", [*INTERNAL_DOORS, "api", "billing-team", None])
@pytest.mark.parametrize("door", ["api", "kafka"])
async def test_the_door_sets_the_source_whatever_the_body_claims(
    service: AcceptService, temporal: KeptStarts, door: Door, claimed: str | None
) -> None:
    accepted = await service.create(CreateDnsRequest.model_validate(body(claimed)), source=door)

    assert accepted.spec is not None and accepted.spec.source == door
    [started] = await temporal.until(1)
    assert started.request.source == door, "the workflow runs the request as its door's"


async def test_every_door_must_name_itself(service: AcceptService, temporal: KeptStarts) -> None:
    with pytest.raises(TypeError, match="source"):
        await service.create(CreateDnsRequest.model_validate(body("api")))  # type: ignore[call-arg]
    assert temporal.started == []


@pytest.fixture
def api(service: AcceptService, settings: Settings) -> Iterator[TestClient]:
    """The real app and the real accept service; only Temporal is the stub."""
    with TestClient(create_app(settings)) as client:
        client.app.state.accept = service  # type: ignore[attr-defined]
        act_as(client.app)  # type: ignore[arg-type]
        yield client


@pytest.mark.parametrize("claimed", [*INTERNAL_DOORS, "api", "billing-team"])
def test_a_rest_create_is_an_api_request_whatever_its_body_claims(
    api: TestClient, temporal: KeptStarts, claimed: str
) -> None:
    """v1 keeps `context.source` in its contract: still accepted, but it decides nothing."""
    v1 = api.post("/api/v1/dns/create", json=body(claimed))
    assert v1.status_code == 200, v1.text

    v2 = api.post("/api/v2/dns/requests", json=body(claimed, operation="create"))
    assert v2.status_code == 202, v2.text
    assert v2.json()["source"] == "api"

    assert [started.request.source for started in temporal.until_sync(2)] == ["api", "api"]


@pytest.mark.parametrize("door", ["api", "kafka"])
async def test_a_submitter_cannot_write_in_a_reverse_zone(
    service: AcceptService, temporal: KeptStarts, door: Door
) -> None:
    payload = body()
    payload["resource"] = {"record_type": "TXT", "domain": "5.2.0.192.in-addr.arpa", "target": "mine"}
    with pytest.raises(ProtectedName, match="reverse zone"):
        await service.create(CreateDnsRequest.model_validate(payload), source=door)
    assert temporal.started == [], "nothing refused may start a workflow"


@pytest.mark.parametrize("door", ["api", "kafka"])
async def test_accept_refuses_what_it_cannot_check_against_the_managed_records(
    settings: Settings, temporal: KeptStarts, door: Door
) -> None:
    """PostgreSQL away at the check (with an API key cached, the key no longer stops the request
    first): no owner, conflict or approval risk was read, so nothing may start."""
    away = make_engine(NOWHERE)
    try:
        service = AcceptService(away, temporal, settings)  # type: ignore[arg-type]
        with pytest.raises(ServiceUnavailable, match="PostgreSQL"):
            await service.create(CreateDnsRequest.model_validate(body()), source=door)
    finally:
        away.dispose()
    assert temporal.started == [], "an unchecked request must not start"
