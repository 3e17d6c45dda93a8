"""API keys checked through the key cache (api/security.py) against real PostgreSQL: a burst of
requests costs one key lookup, and a revoked key is refused once the cache's seconds have passed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from api.security import Caller, KeyCache, install_security
from dnsorch.settings import Settings
from dnsorch.store import keys

pytestmark = pytest.mark.integration
CACHE_SECONDS = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def whoami(caller: Caller) -> dict[str, str]:
    return {"key_id": caller.key_id}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(engine: Engine, clock: FakeClock) -> Iterator[TestClient]:
    """An app with only the API's key check in front of one route, on the session's PostgreSQL."""
    app = FastAPI()
    install_security(app, rate_per_second=1000, burst=1000, max_body_bytes=4096)
    app.state.engine = engine
    app.state.settings = Settings(api_key_cache_seconds=CACHE_SECONDS)
    app.state.key_cache = KeyCache(CACHE_SECONDS, clock=clock)
    app.get("/api/whoami")(whoami)
    with TestClient(app) as test_client:
        yield test_client


def key_lookups(engine: Engine) -> list[str]:
    """Records every SELECT on api_keys the engine runs, from now on."""
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        if "FROM api_keys" in statement:
            seen.append(statement)

    return seen


def test_a_burst_with_one_key_looks_the_key_up_once(client: TestClient, engine: Engine) -> None:
    _row, key = keys.create_key(engine, f"acct-{uuid.uuid4().hex[:6]}", "submitter", "burst")
    lookups = key_lookups(engine)
    answers = [client.get("/api/whoami", headers={"Authorization": f"Bearer {key}"}) for _ in range(20)]
    assert {answer.status_code for answer in answers} == {200}
    assert len(lookups) == 1


def test_a_revoked_key_is_refused_once_the_cache_seconds_have_passed(
    client: TestClient, engine: Engine, clock: FakeClock
) -> None:
    row, key = keys.create_key(engine, f"acct-{uuid.uuid4().hex[:6]}", "submitter", "revoked-soon")
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/whoami", headers=auth).json() == {"key_id": row.id}

    assert keys.revoke_key(engine, row.id)
    clock.now += CACHE_SECONDS - 0.1
    assert client.get("/api/whoami", headers=auth).status_code == 200  # within the cache's time
    clock.now += 0.1
    refused = client.get("/api/whoami", headers=auth)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    clock.now += 60
    assert client.get("/api/whoami", headers=auth).status_code == 401  # a refusal is not cached away


def test_unknown_keys_are_not_cached_so_a_new_key_works_at_once(client: TestClient, engine: Engine) -> None:
    key = f"dnsorch_{'0' * 12}_{'A' * 43}"
    assert client.get("/api/whoami", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    _row, fresh = keys.create_key(engine, f"acct-{uuid.uuid4().hex[:6]}", "submitter", "fresh")
    assert client.get("/api/whoami", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
