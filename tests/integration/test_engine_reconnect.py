"""The engine without a pre-ping per checkout (dnsorch/store/db.py) still hands out only live connections:
after a backend is killed, and after PostgreSQL restarts, the next statements succeed at once."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event, text

from dnsorch.store import make_engine
from tests.fixtures.faults import own_postgres

pytestmark = pytest.mark.integration


def backend_pid(conn: Connection) -> int:
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def statements_seen(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    return seen


def test_a_checkout_costs_no_round_trip(database_url: str) -> None:
    engine = make_engine(database_url, threads=1)
    try:
        with engine.connect() as conn:
            backend_pid(conn)
        seen = statements_seen(engine)
        for _ in range(5):
            with engine.connect() as conn:
                backend_pid(conn)
        assert seen == ["SELECT pg_backend_pid()"] * 5  # no SELECT 1 before each
    finally:
        engine.dispose()


def test_a_pooled_connection_whose_backend_was_killed_is_replaced_on_checkout(
    database_url: str, engine: Engine
) -> None:
    pooled = make_engine(database_url, threads=1)
    try:
        with pooled.connect() as conn:
            doomed = backend_pid(conn)
        with engine.connect() as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": doomed}).scalar_one()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the backend ends a moment after it is told to
            with engine.connect() as admin:
                gone = admin.execute(
                    text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid"), {"pid": doomed}
                ).scalar_one()
            if gone:
                break
            time.sleep(0.05)
        with pooled.connect() as conn:
            assert backend_pid(conn) != doomed
    finally:
        pooled.dispose()


def test_a_live_connection_with_a_message_waiting_is_kept(database_url: str, engine: Engine) -> None:
    """Something to read on an idle connection (here a notification) is not taken for a death."""
    channel = f"reconnect_{uuid.uuid4().hex[:8]}"
    pooled = make_engine(database_url, threads=1)
    try:
        with pooled.connect() as conn:
            kept = backend_pid(conn)
            conn.execute(text(f"LISTEN {channel}"))
            conn.commit()
        with engine.connect() as other:
            other.execute(text(f"NOTIFY {channel}"))
            other.commit()
        time.sleep(0.2)
        with pooled.connect() as conn:
            assert backend_pid(conn) == kept
    finally:
        pooled.dispose()


@pytest.fixture
def workdir() -> Iterator[Path]:
    """Outside pytest's temporary directories: PostgreSQL runs as another user, and every pytest that
    starts makes those private again (devstack/postgres.py, tests/fixtures/dev_stack.py)."""
    path = Path(tempfile.mkdtemp(prefix="dnsorch-reconnect-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_every_pooled_connection_works_again_after_postgres_restarts(workdir: Path) -> None:
    with own_postgres(workdir) as (postgres, url):
        engine = make_engine(url, threads=3)
        try:
            with contextlib.ExitStack() as held:  # three connections in the pool, all idle
                before = {backend_pid(held.enter_context(engine.connect())) for _ in range(3)}
            assert len(before) == 3
            postgres.stop()
            postgres.start(database="dnsorch")
            with contextlib.ExitStack() as held:
                after = {backend_pid(held.enter_context(engine.connect())) for _ in range(3)}
            assert len(after) == 3 and not after & before
        finally:
            engine.dispose()
