"""Activities that persist a request's progress in PostgreSQL; each is safe to retry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.pools import ThreadPool
from dnsorch.contracts import (
    REQUEST_ROW_MISSING,
    REQUEST_UNSTORABLE,
    BeginAnswer,
    BeginRequest,
    DnsRequestSpec,
    FinishRequest,
    LogStep,
    RecordRow,
)
from dnsorch.dns import rdata_values, same_rrset
from dnsorch.logging import bind_request_id
from dnsorch.store import expiries, freezes, request_rows, served_records

ExpiryStart = Callable[[str, datetime], Awaitable[None]]
"""Starts the expiry of the record a request provisioned (activities/expiry.py `ExpiryActivities.start`)."""


class DatabaseActivities:
    """Constructed once per worker with the process's engine."""

    def __init__(self, engine: Engine, threads: int = 8, start_expiry: ExpiryStart | None = None) -> None:
        """`threads`: at least the worker's activity slots (see activities/pools.py); `start_expiry`:
        what a create or update that completed with `expires_at` starts (None: nothing)."""
        self.engine = engine
        self.start_expiry = start_expiry
        self.pool = ThreadPool("db", threads)
        """Shared with the apply activity's name claims (worker.py): one bound on connections."""

    @activity.defn(name="ensure_request_row")
    async def ensure_request_row(self, spec: DnsRequestSpec) -> bool:
        """Create the row if the accepting process died before it could; True if created here."""
        bind_request_id(spec.request_id)
        accepted_at = spec.accepted_at or activity.info().started_time

        def write() -> bool:
            with self.engine.begin() as conn:
                return request_rows.insert_request(conn, spec, accepted_at)

        try:
            created = await self.pool.run(write)
        except (DataError, UnicodeEncodeError) as error:
            raise _unstorable(error) from error
        if created:
            activity.logger.info("request row was missing; created it from the workflow input")
        return created

    @activity.defn(name="begin_request")
    async def begin_request(self, begin: BeginRequest) -> bool:
        """Local activity: the row (if the accepting process died first) and the first status, at once."""
        spec = begin.request
        bind_request_id(spec.request_id)
        accepted_at = spec.accepted_at or begin.step.at

        def write() -> bool:
            with self.engine.begin() as conn:
                return request_rows.begin_request(conn, spec, accepted_at, begin.step)

        try:
            created = await self.pool.run(write)
        except (DataError, UnicodeEncodeError) as error:
            raise _unstorable(error) from error
        activity.logger.info("%s: %s", begin.step.status, begin.step.message)
        return created

    @activity.defn(name="begin_request_and_freeze")
    async def begin_request_and_freeze(self, begin: BeginRequest) -> BeginAnswer:
        """Local activity (fewer-steps-to-apply): `begin_request`, then the window that freezes the
        request's zone now (`freeze_at`'s answer), for a request that goes straight to its first plan."""
        created = await self.begin_request(begin)
        freeze = await self.pool.run(freezes.freeze_at, self.engine, begin.request.zone, datetime.now(UTC))
        return BeginAnswer(created, freeze)

    @activity.defn(name="finish_request")
    async def finish_request(self, finish: FinishRequest) -> None:
        """Local activity: the record DNS now serves and the final status, in one transaction; then,
        for a create or update that completed with `expires_at`, its expiry's workflow. Both are
        idempotent, so a retry (the start failed while Temporal was away) starts it once."""
        bind_request_id(finish.step.request_id)

        def write() -> datetime | None:
            with self.engine.begin() as conn:
                request_rows.finish_request(conn, finish.step, finish.record, finish.ptrs)
                return expiries.due_after_finish(conn, finish.step, finish.record)

        expires_at = await self.pool.run(write)
        activity.logger.info("%s: %s", finish.step.status, finish.step.message)
        if expires_at is not None and self.start_expiry is not None:
            await self.start_expiry(finish.step.request_id, expires_at)

    @activity.defn(name="superseded")
    async def superseded(self, spec: DnsRequestSpec) -> str:
        """Local activity, for a request that restores recorded values (drift): why it must no longer
        apply them (dnsorch has recorded another value since it was raised), or "" when it still may."""

        def read() -> tuple[list[str], int] | None:
            with self.engine.connect() as conn:
                return served_records.recorded_values(conn, spec.domain, spec.record_type)

        now = await self.pool.run(read)
        restoring = rdata_values(spec.record_type, spec.target, spec.priority, spec.extra_config)
        if now is not None and now[1] == spec.ttl and same_rrset(now[0], restoring, spec.record_type):
            return ""  # the whole record set, as DNS would serve it: an SRV's port and weight too
        shown = f"{', '.join(now[0])} (TTL {now[1]})" if now else "nothing"
        return f"superseded: dnsorch now records {shown} for {spec.record_type} {spec.domain}"

    @activity.defn(name="record_step")
    async def record_step(self, step: LogStep) -> bool:
        """Append one log line (and maybe a status) exactly once."""
        bind_request_id(step.request_id)

        def write() -> bool:
            with self.engine.begin() as conn:
                if request_rows.append_step(conn, step):
                    return True
                if not request_rows.request_exists(conn, step.request_id):
                    raise ApplicationError(
                        f"request row {step.request_id} does not exist",
                        type=REQUEST_ROW_MISSING,
                        non_retryable=True,
                    )
                return False

        appended = await self.pool.run(write)
        activity.logger.info("%s: %s", step.status or "log", step.message if appended else "already recorded")
        return appended

    @activity.defn(name="store_record")
    async def store_record(self, row: RecordRow) -> bool:
        """Make `dns_records` match what DNS serves after this request (see served_records.apply_record)."""
        bind_request_id(row.request_id)

        def write() -> bool:
            with self.engine.begin() as conn:
                return served_records.apply_record(conn, row)

        return await self.pool.run(write)


def _unstorable(error: Exception) -> ApplicationError:
    """Retrying cannot make the value storable."""
    return ApplicationError(
        f"PostgreSQL refused the request: {type(error).__name__}",
        type=REQUEST_UNSTORABLE,
        non_retryable=True,
    )
