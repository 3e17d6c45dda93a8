"""Database engine and sessions; one engine per process."""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, exc, text
from sqlmodel import Session, create_engine

RECYCLE_SECONDS = 1800
"""A pooled connection is replaced after this long, whatever happened to it: a firewall or a proxy
that drops idle connections without a word to either end is not noticed any other way."""


def make_engine(database_url: str, *, threads: int = 5) -> Engine:
    """A pooled engine that notices connections PostgreSQL dropped (e.g. after a restart).

    `threads`: how many threads of the process use it at once; each gets a connection without
    waiting, and a few more can open for short bursts.

    No `pool_pre_ping`: its SELECT 1 is a round trip on every checkout, which cost the API and the
    worker more CPU than some of their real queries. Instead a checkout looks at the connection's
    socket (`_drop_if_closed`), which catches what a restart or a killed backend leaves behind; a
    connection that dies while in use fails that one statement, SQLAlchemy then replaces every
    connection of the pool that is older, and the caller's retry (503 + Retry-After in the API,
    Temporal's retry policy in the worker) goes through on fresh connections.
    """
    engine = create_engine(
        database_url,
        pool_size=threads,
        max_overflow=max(2, threads // 2),
        pool_recycle=RECYCLE_SECONDS,
        connect_args={"connect_timeout": 5},
    )
    event.listen(engine, "checkout", _drop_if_closed)
    return engine


def _drop_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed, so the pool opens a new one instead.

    An idle PostgreSQL session has nothing to read: when the server ends it (shutdown, restart,
    pg_terminate_backend, a crash) the socket holds its last error message or end-of-file. Looking
    costs one poll() without waiting, not a round trip. Only when there is something to read does
    the check ask PostgreSQL (SELECT 1, as pool_pre_ping would), so a stray message on a live
    connection (a notice, a TLS record) costs one round trip, not a new connection. Raising
    DisconnectionError makes the pool discard the connection and check out another.
    """
    if getattr(dbapi_connection, "closed", 0):
        raise exc.DisconnectionError("the connection was closed")
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:  # a driver without a socket to look at (SQLite in tests)
        return
    poller = select.poll()
    poller.register(fileno(), select.POLLIN | select.POLLPRI)
    if not poller.poll(0):
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        raise exc.DisconnectionError(
            "the server closed the connection while it was idle in the pool"
        ) from error


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping(engine: Engine) -> None:
    """Raise unless PostgreSQL answers a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
