"""Freeze windows on real PostgreSQL: the store's answer to "what freezes zone Z at time T" (the
window ending last among those covering T), and API v2's `/api/v2/freezes` on the real app
(operators only; 422 for times it cannot keep and unknown zones; ending a window wakes the FROZEN
requests), Temporal a stub.

Windows here either lie in the past (the store's tests ask at those times) or name a zone no other
test provisions in, and each test removes its own: a window left on `example.test` would freeze
the requests of every other test sharing the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete

from api.main import create_app
from dnsorch.contracts import LogStep
from dnsorch.requests import AcceptService, OperateService
from dnsorch.settings import Settings
from dnsorch.store import FreezeWindow, Principal, Role, freezes, request_rows
from tests.fixtures.auth import act_as
from tests.fixtures.kept_starts import KeptStarts
from tests.fixtures.specs import ZONE, fresh_name, request_spec

pytestmark = pytest.mark.integration
FROZEN_ZONE = "freeze-test.test"
"""A zone of the app under test that no other test provisions in."""
OPERATOR = Principal("k-operator00", "alice", "acct-ops", Role.OPERATOR)
SUBMITTER = Principal("k-submit000", "bob", "acct-42", Role.SUBMITTER)
Y2K = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture
def made(engine: Engine) -> Iterator[list[uuid.UUID]]:
    """The ids of the windows a test made: removed afterwards."""
    ids: list[uuid.UUID] = []
    yield ids
    with engine.begin() as conn:
        conn.execute(delete(FreezeWindow).where(FreezeWindow.id.in_(ids)))  # type: ignore[attr-defined]


def window(
    engine: Engine, made: list[uuid.UUID], zone: str | None, hours: tuple[float, float], reason: str
) -> str:
    starts, ends = (Y2K + timedelta(hours=h) for h in hours)
    row = freezes.create(engine, zone, starts, ends, reason, "test")
    made.append(row.id)
    return str(row.id)


def test_the_window_that_freezes_a_zone_is_the_one_ending_last(engine: Engine, made: list[uuid.UUID]) -> None:
    zone = f"z{uuid.uuid4().hex[:8]}.test"
    window(engine, made, zone, (0, 10), "short")
    longest = window(engine, made, None, (2, 30), "every zone")
    window(engine, made, f"other-{zone}", (0, 50), "another zone")
    at = Y2K + timedelta(hours=5)
    found = freezes.freeze_at(engine, zone, at)
    assert found is not None and found.window_id == longest and found.zone is None
    assert found.ends_at == Y2K + timedelta(hours=30) and found.reason == "every zone"
    assert freezes.freeze_at(engine, zone, Y2K + timedelta(hours=1)).reason == "short"  # type: ignore[union-attr]
    assert freezes.freeze_at(engine, zone, Y2K + timedelta(hours=30)) is None, "a window ends at ends_at"
    assert freezes.freeze_at(engine, f"{zone}.", Y2K + timedelta(hours=1)) is not None, "a trailing dot"


def test_a_window_ended_early_freezes_nothing_from_then_on(engine: Engine, made: list[uuid.UUID]) -> None:
    zone = f"z{uuid.uuid4().hex[:8]}.test"
    window_id = uuid.UUID(window(engine, made, zone, (0, 10), "short"))
    ended = freezes.cancel(engine, window_id, Y2K + timedelta(hours=3))
    assert ended is not None and ended.cancelled_at == Y2K + timedelta(hours=3)
    assert freezes.freeze_at(engine, zone, Y2K + timedelta(hours=1)) is None
    again = freezes.cancel(engine, window_id, Y2K + timedelta(hours=4))
    assert again is not None and again.cancelled_at == Y2K + timedelta(hours=3), "ending it twice moved it"
    assert freezes.cancel(engine, uuid.uuid4(), Y2K) is None


def test_the_frozen_requests_are_listed_by_their_workflow(engine: Engine) -> None:
    spec = request_spec()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        request_rows.insert_request(conn, spec, now)
        request_rows.append_step(
            conn, LogStep(spec.request_id, str(uuid.uuid4()), now, "frozen", status="FROZEN")
        )
    assert spec.workflow_id in freezes.frozen_workflow_ids(engine)


class NudgeGateway:
    """Temporal as the freeze routes reach it: each `freezes_changed` signal is kept."""

    def __init__(self) -> None:
        self.nudged: list[str] = []

    async def freezes_changed(self, workflow_id: str) -> None:
        self.nudged.append(workflow_id)


@pytest.fixture
def gateway() -> NudgeGateway:
    return NudgeGateway()


@pytest.fixture
def api(
    engine: Engine, database_url: str, gateway: NudgeGateway, made: list[uuid.UUID]
) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url, temporal_address="127.0.0.1:1", dns_zones=[ZONE, FROZEN_ZONE]
    )
    with TestClient(create_app(settings)) as client:
        client.app.state.operate = OperateService(engine, gateway)  # type: ignore[arg-type,attr-defined]
        act_as(client.app, OPERATOR)  # type: ignore[arg-type]
        yield client
    with engine.begin() as conn:  # what the API made
        conn.execute(delete(FreezeWindow).where(FreezeWindow.created_by == OPERATOR.actor))  # type: ignore[arg-type]


def ahead(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def test_an_operator_declares_lists_and_ends_a_freeze(
    api: TestClient, engine: Engine, gateway: NudgeGateway
) -> None:
    body = {"zone": f"{FROZEN_ZONE}.", "ends_at": ahead(hours=2), "reason": "release night"}
    made = api.post("/api/v2/freezes", json=body)
    assert made.status_code == 201, made.text
    declared = made.json()
    assert declared["zone"] == FROZEN_ZONE and declared["created_by"] == OPERATOR.actor
    assert declared["cancelled_at"] is None
    assert freezes.freeze_at(engine, FROZEN_ZONE, datetime.now(UTC)) is not None
    later = api.post(
        "/api/v2/freezes", json={**body, "starts_at": ahead(days=300), "ends_at": ahead(days=301)}
    )
    assert later.status_code == 201
    listed = [w["id"] for w in api.get("/api/v2/freezes").json()["items"]]
    assert declared["id"] in listed and later.json()["id"] in listed, "current and future windows"

    ended = api.delete(f"/api/v2/freezes/{declared['id']}")
    assert ended.status_code == 200 and ended.json()["cancelled_at"] is not None
    assert freezes.freeze_at(engine, FROZEN_ZONE, datetime.now(UTC)) is None
    assert declared["id"] not in [w["id"] for w in api.get("/api/v2/freezes").json()["items"]]
    assert api.delete(f"/api/v2/freezes/{uuid.uuid4()}").status_code == 404


def test_ending_a_freeze_wakes_the_frozen_requests(
    api: TestClient, engine: Engine, gateway: NudgeGateway
) -> None:
    spec = request_spec()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        request_rows.insert_request(conn, spec, now)
        request_rows.append_step(
            conn, LogStep(spec.request_id, str(uuid.uuid4()), now, "frozen", status="FROZEN")
        )
    made = api.post("/api/v2/freezes", json={"zone": FROZEN_ZONE, "ends_at": ahead(hours=1), "reason": "x"})
    api.delete(f"/api/v2/freezes/{made.json()['id']}")
    assert spec.workflow_id in gateway.nudged


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_at": "2099-01-01T00:00:00"}, "ends_at"),  # no UTC offset
        ({"starts_at": "2099-01-01T00:00:00"}, "starts_at"),
        ({"starts_at": ahead(hours=3)}, "ends_at"),  # the end before the start
        ({"starts_at": ahead(hours=-3), "ends_at": ahead(hours=-1)}, "ends_at"),  # in the past
        ({"ends_at": ahead(days=367)}, "ends_at"),  # longer than 366 days
        ({"zone": "not-managed.test"}, "zone"),
        ({"reason": ""}, "reason"),
    ],
)
def test_a_freeze_it_cannot_keep_is_refused_with_422(api: TestClient, change: dict, field: str) -> None:  # type: ignore[type-arg]
    body = {"zone": FROZEN_ZONE, "ends_at": ahead(hours=2), "reason": "release night", **change}
    refused = api.post("/api/v2/freezes", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"][0]["field"] == field


def test_freezes_are_for_operators_only(api: TestClient) -> None:
    act_as(api.app, SUBMITTER)  # type: ignore[arg-type]
    body = {"zone": FROZEN_ZONE, "ends_at": ahead(hours=2), "reason": "mine"}
    assert api.post("/api/v2/freezes", json=body).status_code == 403
    assert api.get("/api/v2/freezes").status_code == 403
    assert api.delete(f"/api/v2/freezes/{uuid.uuid4()}").status_code == 403


@pytest.mark.parametrize("risks", ["delete", ""])
def test_an_emergency_through_api_v2_is_held_for_approval_and_says_so(
    engine: Engine, database_url: str, risks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPROVAL_RISKS", risks)
    settings = Settings(database_url=database_url, temporal_address="127.0.0.1:1", dns_zones=[ZONE])
    temporal = KeptStarts()
    payload = {
        "context": {"account_id": "acct-42"},
        "resource": {"record_type": "A", "domain": fresh_name("emerg"), "target": "192.0.2.10"},
        "emergency": True,
    }
    with TestClient(create_app(settings)) as client:
        client.app.state.accept = AcceptService(engine, temporal, settings)  # type: ignore[arg-type,attr-defined]
        act_as(client.app, SUBMITTER)  # type: ignore[arg-type]
        accepted = client.post("/api/v2/dns/requests", json=payload)
        [started] = temporal.until_sync(1)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["config"]["emergency"] is True
    assert started.request.emergency and started.approval_required
    assert any("emergency" in reason for reason in started.approval_reasons)
