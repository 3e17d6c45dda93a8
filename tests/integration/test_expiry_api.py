"""API v2's `POST /api/v2/dns/requests/{id}/expiry` on the real app and PostgreSQL, Temporal a stub:
the owner's key or an operator moves an expiry; another account's request is 404, a name that has
moved to another account 403, no expiry waiting 409, a time that cannot be kept 422."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from dnsorch.contracts import ExtendExpiry, LogStep, RecordRow
from dnsorch.requests import OperateService
from dnsorch.settings import Settings
from dnsorch.store import Principal, Role, name_transfers, request_rows
from dnsorch.temporal import UpdateRefused, WorkflowNotFound
from tests.fixtures.auth import act_as
from tests.fixtures.specs import ZONE, request_spec

pytestmark = pytest.mark.integration
OWNER = Principal("k-owner00000", "owner", "acct-exp", Role.SUBMITTER)
STRANGER = Principal("k-strange000", "stranger", "acct-other", Role.SUBMITTER)
OPERATOR = Principal("k-operator00", "alice", "acct-ops", Role.OPERATOR)


class ExpiryGateway:
    """Temporal's expiry workflow, as the API reaches it: each move is kept; `refusal` is raised instead."""

    def __init__(self) -> None:
        self.moved: list[tuple[str, ExtendExpiry]] = []
        self.refusal: Exception | None = None

    async def extend_expiry(self, request_id: str, moved: ExtendExpiry) -> str:
        if self.refusal is not None:
            raise self.refusal
        self.moved.append((request_id, moved))
        return moved.expires_at.isoformat()


@pytest.fixture
def gateway() -> ExpiryGateway:
    return ExpiryGateway()


@pytest.fixture
def api(engine: Engine, database_url: str, gateway: ExpiryGateway) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, temporal_address="127.0.0.1:1", dns_zones=[ZONE])
    with TestClient(create_app(settings)) as client:
        client.app.state.operate = OperateService(engine, gateway)  # type: ignore[arg-type,attr-defined]
        yield client


def completed(engine: Engine, expires_at: datetime | None) -> str:
    spec = request_spec(account_id=OWNER.account_id, expires_at=expires_at)
    now = datetime.now(UTC)
    record = RecordRow(
        spec.request_id,
        "A",
        spec.domain,
        spec.target,
        300,
        None,
        None,
        now,
        account_id=spec.account_id,
        zone=ZONE,
    )
    with engine.begin() as conn:
        request_rows.insert_request(conn, spec, now)
        step = LogStep(spec.request_id, str(uuid.uuid4()), now, "done", status="COMPLETED")
        request_rows.finish_request(conn, step, record)
    return spec.request_id


def extend(api: TestClient, request_id: str, principal: Principal, when: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    act_as(api.app, principal)  # type: ignore[arg-type]
    answer = api.post(f"/api/v2/dns/requests/{request_id}/expiry", json={"expires_at": when, "note": "why"})
    return answer.status_code, answer.json()


def ahead(days: int = 2) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


def test_the_owner_and_an_operator_move_the_expiry(
    api: TestClient, engine: Engine, gateway: ExpiryGateway
) -> None:
    request_id = completed(engine, datetime.now(UTC) + timedelta(hours=1))
    when = ahead(2)
    status, body = extend(api, request_id, OWNER, when)
    assert status == 200, body
    assert datetime.fromisoformat(body["expires_at"]) == datetime.fromisoformat(when)
    status, _ = extend(api, request_id, OPERATOR, ahead(3))
    assert status == 200
    assert [(rid, m.actor, m.note) for rid, m in gateway.moved] == [
        (request_id, OWNER.actor, "why"),
        (request_id, OPERATOR.actor, "why"),
    ]
    act_as(api.app, OWNER)  # type: ignore[arg-type]
    detail = api.get(f"/api/v2/dns/requests/{request_id}").json()
    assert detail["expires_at"] is not None


def test_another_accounts_request_is_not_found(
    api: TestClient, engine: Engine, gateway: ExpiryGateway
) -> None:
    request_id = completed(engine, datetime.now(UTC) + timedelta(hours=1))
    status, body = extend(api, request_id, STRANGER, ahead())
    assert status == 404 and gateway.moved == [], body


def test_a_name_moved_to_another_account_is_forbidden_to_the_old_owner(
    api: TestClient, engine: Engine, gateway: ExpiryGateway
) -> None:
    request_id = completed(engine, datetime.now(UTC) + timedelta(hours=1))
    act_as(api.app, OWNER)  # type: ignore[arg-type]
    domain = api.get(f"/api/v2/dns/requests/{request_id}").json()["domain"]
    name_transfers.transfer(engine, domain, STRANGER.account_id, "alice", "reorg")
    status, body = extend(api, request_id, OWNER, ahead())
    assert status == 403 and "another account" in body["error"]["message"] and gateway.moved == []
    assert extend(api, request_id, OPERATOR, ahead())[0] == 200


@pytest.mark.parametrize(
    ("expires", "refusal", "code", "reason"),
    [
        (None, None, 409, "set no expiry"),
        ("1h", WorkflowNotFound("workflow not found"), 409, "no expiry is waiting"),
        ("1h", UpdateRefused("too late to move the expiry: delete request started"), 409, "too late"),
    ],
)
def test_no_expiry_waiting_is_a_conflict_with_its_reason(
    api: TestClient,
    engine: Engine,
    gateway: ExpiryGateway,
    expires: str | None,
    refusal: Exception | None,
    code: int,
    reason: str,
) -> None:
    request_id = completed(engine, None if expires is None else datetime.now(UTC) + timedelta(hours=1))
    gateway.refusal = refusal
    status, body = extend(api, request_id, OWNER, ahead())
    assert status == code and reason in body["error"]["message"], body


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("2030-01-01T10:00:00", "UTC offset"),
        ("2020-01-01T10:00:00Z", "has passed"),
        ("400 days", "days ahead"),
    ],
)
def test_a_time_that_cannot_be_kept_is_refused_naming_expires_at(
    api: TestClient, engine: Engine, gateway: ExpiryGateway, when: str, reason: str
) -> None:
    request_id = completed(engine, datetime.now(UTC) + timedelta(hours=1))
    status, body = extend(api, request_id, OWNER, ahead(400) if when == "400 days" else when)
    assert status == 422 and body["error"]["details"][0]["field"] == "expires_at" and reason in str(body)
    assert gateway.moved == []
