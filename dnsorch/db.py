"""Database engine and sessions; one engine per process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlmodel import Session, create_engine


def make_engine(database_url: str, *, threads: int = 5) -> Engine:
    """A pooled engine that notices connections PostgreSQL dropped (e.g. after a restart).

    `threads`: how many threads of the process use it at once; each gets a connection without
    waiting, and a few more can open for short bursts.
    """
    return create_engine(
        database_url,
        pool_pre_ping=True,
        pool_size=threads,
        max_overflow=max(2, threads // 2),
        connect_args={"connect_timeout": 5},
    )


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
