"""Starting accepted requests' workflows from their queued entries (dnsorch/store/workflow_starts.py).

Three ways, one step (start, then delete the entry):
1. right after accept, in the background, by the process that accepted the request;
2. by a sweep in every accepting process, for entries left behind (that process died, Temporal
   was down), once they are `OUTBOX_START_GRACE_SECONDS` old;
3. on demand, when an operator acts on a request before its workflow started.
They may race: the workflow id is the request's, Temporal refuses a second start, and a refused
start counts as done once the existing workflow is seen to hold the same request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from dnsorch.contracts import ProvisioningInput, ServiceUnavailable
from dnsorch.logging import bind_request_id
from dnsorch.settings import Settings
from dnsorch.store import workflow_starts
from dnsorch.store.workflow_starts import QueuedStart
from dnsorch.temporal import ProvisioningGateway, WorkflowNotFound

log = logging.getLogger(__name__)
T = TypeVar("T")
CLOSE_TIMEOUT = 5.0
"""How long a stopping process waits for its background starts; the sweep takes what is left."""


class StartConflict(Exception):
    """A workflow with the request's id exists and holds another request."""


class WorkflowStarter:
    """Owns the background starts of one process; shared by its AcceptService and OperateService."""

    def __init__(self, engine: Engine, gateway: ProvisioningGateway, settings: Settings) -> None:
        self.engine = engine
        self.gateway = gateway
        self.grace = timedelta(seconds=settings.outbox_start_grace_seconds)
        self.sweep_seconds = settings.outbox_sweep_seconds
        self.batch = settings.outbox_sweep_batch
        self._tasks: set[asyncio.Task[None]] = set()

    def start_soon(self, params: ProvisioningInput) -> None:
        """Start the workflow of a request just accepted, without holding up its answer."""
        entry = QueuedStart(params.request.request_id, params, 0)
        task = asyncio.create_task(self._start_or_record(entry), name=f"start-{entry.request_id}")
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    async def start(self, entry: QueuedStart) -> None:
        """Start the entry's workflow, then delete the entry. Raises ServiceUnavailable while Temporal
        (or PostgreSQL, for the delete) cannot answer, StartConflict for another request's workflow."""
        if not await self.gateway.start(entry.params):
            await self._check_same_request(entry)
        await self._db(workflow_starts.remove, entry.request_id)

    async def start_queued(self, request_id: str) -> bool:
        """Start the request's workflow if its start is still queued; True when it was."""
        entry = await self._db(workflow_starts.queued, request_id)
        if entry is None:
            return False
        log.info("workflow of %s still queued: starting it before acting", request_id)
        await self.start(entry)
        return True

    async def sweep(self) -> int:
        """Start every due entry (claimed, so another sweeper skips it); how many were claimed."""
        entries = await self._db(workflow_starts.claim_due, self.batch, self.grace, self.gateway.task_queue)
        await asyncio.gather(*(self._start_or_record(entry) for entry in entries))
        return len(entries)

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every `OUTBOX_SWEEP_SECONDS` until `stop`."""
        while not stop.is_set():
            try:
                swept = await self.sweep()
                if swept:
                    log.info("outbox sweep: %d workflow start(s) taken over", swept)
            except ServiceUnavailable as away:
                log.warning("outbox sweep skipped: %s", away)
            except Exception:  # the next sweep tries again; the process goes on accepting
                log.exception("outbox sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.sweep_seconds)

    async def close(self) -> None:
        """Wait briefly for the background starts; an unfinished one stays queued for a sweep."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=CLOSE_TIMEOUT)

    async def _start_or_record(self, entry: QueuedStart) -> None:
        bind_request_id(entry.request_id)
        try:
            await self.start(entry)
        except (ServiceUnavailable, StartConflict, WorkflowNotFound) as error:
            log.warning("workflow start of %s left queued: %s", entry.request_id, error)
            retry_at = datetime.now(UTC) + self.grace
            with contextlib.suppress(ServiceUnavailable):
                await self._db(workflow_starts.record_failure, entry.request_id, str(error), retry_at)
        except Exception:  # a task's error is nobody's to catch: log it; the entry stays for a sweep
            log.exception("workflow start of %s failed", entry.request_id)

    async def _check_same_request(self, entry: QueuedStart) -> None:
        started = await self.gateway.started(entry.params.request.workflow_id)
        if started.params.request.request_hash != entry.params.request.request_hash:
            raise StartConflict(f"workflow {entry.params.request.workflow_id} holds another request")

    async def _db(self, call: Callable[..., T], *args: object) -> T:
        def run() -> T:
            with self.engine.begin() as conn:
                return call(conn, *args)

        try:
            return await asyncio.to_thread(run)
        except OperationalError as error:
            raise ServiceUnavailable.postgresql() from error
