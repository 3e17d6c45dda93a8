"""Freeze windows on the real stack (issue 26): a create accepted while its zone is frozen waits in
FROZEN and is not served; once an operator ends the freeze early through API v2 it is applied and
served by BIND.

The stack here is its own (API, worker, database, task queue): a freeze of `example.test` in the
session's database would hold every other end-to-end test's requests while it lasts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devstack.postgres import LocalPostgres
from dnsorch import migrate
from dnsorch.store import keys, make_engine
from tests.fixtures.api_v2 import as_account, body, post_v2, wait_v2
from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def freeze_stack(
    postgres_server: LocalPostgres, stack_env: dict[str, str], tmp_path: Path
) -> Iterator[ProcessStack]:
    database = f"dnsorch_freeze_{uuid.uuid4().hex[:8]}"
    postgres_server.ensure_database(database)
    url = postgres_server.url(database)
    migrate.upgrade(url)
    engine = make_engine(url)
    key = keys.create_key(engine, "acct-e2e-admin", "admin", "freeze-admin")[1]
    engine.dispose()
    own = {
        "DATABASE_URL": url,
        "DNSORCH_API_KEY": key,
        "TEMPORAL_TASK_QUEUE": f"e2e-freeze-{tmp_path.name}",
        "API_PORT": str(free_port()),
        "DRIFT_INTERVAL_SECONDS": "0",  # the session's worker keeps the drift schedule
    }
    processes = ProcessStack({**stack_env, **own}, tmp_path)
    try:
        processes.start("worker")
        processes.start("api")
        yield processes
    finally:
        processes.stop_all()


def test_a_create_accepted_in_a_freeze_runs_once_the_freeze_is_ended(
    freeze_stack: ProcessStack, bind_server: Any
) -> None:
    ends = datetime.now(UTC) + timedelta(hours=1)
    declared = freeze_stack.http.post(
        "/api/v2/freezes",
        json={"zone": "example.test", "ends_at": ends.isoformat(), "reason": "e2e release night"},
        timeout=30,
    )
    assert declared.status_code == 201, declared.text
    window = declared.json()
    assert [w["id"] for w in freeze_stack.http.get("/api/v2/freezes", timeout=30).json()["items"]] == [
        window["id"]
    ]

    name = f"frozen-{uuid.uuid4().hex[:6]}.example.test"
    accepted = post_v2(freeze_stack, as_account(body(name, "192.0.2.90"), "acct-freeze"))
    assert accepted.status_code == 202, accepted.text
    request_id = accepted.json()["request_id"]
    frozen = wait_v2(freeze_stack, request_id, {"FROZEN"}, timeout=60)
    line = next(e["message"] for e in frozen["timeline"] if e.get("status") == "FROZEN")
    assert "e2e release night" in line and datetime.fromisoformat(window["ends_at"]).isoformat() in line
    time.sleep(3)
    assert wait_v2(freeze_stack, request_id, {"FROZEN"}, timeout=5)["status"] == "FROZEN"
    assert served(bind_server, name) == [], "applied during the freeze"

    ended = freeze_stack.http.delete(f"/api/v2/freezes/{window['id']}", timeout=30)
    assert ended.status_code == 200 and ended.json()["cancelled_at"] is not None, ended.text
    done = wait_v2(
        freeze_stack, request_id, {"COMPLETED", "FAILED", "REJECTED", "NEEDS_ATTENTION"}, timeout=90
    )
    assert done["status"] == "COMPLETED", done["timeline"]
    assert served(bind_server, name) == ["192.0.2.90"]
    planned = min(datetime.fromisoformat(e["at"]) for e in done["timeline"] if e["step"] == "plan")
    assert planned < ends - timedelta(minutes=50), "it waited for the window's end, not for the operator"
