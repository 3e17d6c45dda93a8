"""The event publisher's advisory-lock connection on a real PostgreSQL: it holds the lock for the
publisher's whole life without holding a transaction open (an idle transaction pins the xmin horizon,
so VACUUM cannot clean `request_events` or anything else, and `idle_in_transaction_session_timeout`
would end the session and its lock)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from consumer.events import PUBLISHER_LOCK_KEY, EventPublisher
from devstack.postgres import LocalPostgres
from dnsorch import migrate
from dnsorch.store import make_engine

pytestmark = pytest.mark.integration


class NoProducer:
    """The database of this test holds no events: nothing may be sent."""

    async def send(self, *_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("no event to publish")


@pytest.fixture
def own_engine(postgres_server: LocalPostgres) -> Iterator[Engine]:
    """A database of its own: the publisher marks events published, and its lock is per database."""
    name = f"publisher_{uuid.uuid4().hex[:8]}"
    postgres_server.ensure_database(name)
    url = postgres_server.url(name)
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def lock_holders(engine: Engine) -> list[tuple[int, str]]:
    """(pid, state) of every session holding the publisher's advisory lock in this database."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.pid, a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = :key"
            ),
            {"key": PUBLISHER_LOCK_KEY},
        ).all()
    return [(row.pid, row.state) for row in rows]


async def test_publisher_holds_its_lock_without_an_open_transaction(own_engine: Engine) -> None:
    publisher = EventPublisher(own_engine, NoProducer(), "events", poll_seconds=0.05)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        states: list[tuple[int, str]] = []
        for _ in range(20):  # a second each: enough polls that the lock is checked many times over
            await asyncio.sleep(0.1)
            holders = await asyncio.to_thread(lock_holders, own_engine)
            states += holders
        assert states, "the publisher never took its lock"
        assert {pid for pid, _ in states} == {states[0][0]}, "the lock moved between sessions"
        assert "idle in transaction" not in {state for _, state in states}, states

        second = EventPublisher(own_engine, NoProducer(), "events")  # type: ignore[arg-type]
        assert not await asyncio.to_thread(second._hold_lock), "a second publisher took the lock"
    finally:
        stop.set()
        await task
    assert await asyncio.to_thread(lock_holders, own_engine) == []
