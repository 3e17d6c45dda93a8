"""Final statuses of a burst's requests, read from PostgreSQL by one poller, so that waiting for them
costs the API nothing (benchmarks/cpu_per_record.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg2

from dnsorch.contracts import UNFINISHED_STATUSES


class Statuses:
    """Final statuses read from PostgreSQL by one poller, so waiting costs the API nothing."""

    def __init__(self, dsn: dict[str, Any], interval: float) -> None:
        self.dsn, self.interval = dsn, interval
        self.waiting: dict[str, asyncio.Future[str]] = {}

    def _read(self, ids: list[str]) -> dict[str, str]:
        with psycopg2.connect(**self.dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT id::text, status FROM dns_requests WHERE id::text = ANY(%s)", (ids,))
            return dict(cur.fetchall())

    def unfinished(self) -> int:
        """Rows of any request still under way (the PTR requests the creates started included)."""
        with psycopg2.connect(**self.dsn) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM dns_requests WHERE status = ANY(%s)", (list(UNFINISHED_STATUSES),)
            )
            return int(cur.fetchone()[0])

    def transactions(self) -> int:
        """Transactions PostgreSQL has counted in this database so far (committed and rolled back)."""
        with psycopg2.connect(**self.dsn) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
            return int(cur.fetchone()[0])

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                if self.waiting:
                    found = await asyncio.to_thread(self._read, list(self.waiting))
                    for request_id, status in found.items():
                        if status not in UNFINISHED_STATUSES:
                            self.waiting.pop(request_id).set_result(status)
                await asyncio.sleep(self.interval)
        except Exception as error:  # PostgreSQL gone: fail the run rather than wait for ever
            for future in self.waiting.values():
                future.set_exception(error)
            raise

    async def final(self, request_id: str) -> str:
        future = self.waiting[request_id] = asyncio.get_running_loop().create_future()
        return await future

    async def settle(self) -> None:
        async with asyncio.timeout(300):
            while True:
                if not await asyncio.to_thread(self.unfinished):
                    return
                await asyncio.sleep(self.interval)
