"""Starting accepted requests' workflows from their queued entries (dnsorch/store/workflow_starts.py).

Three ways, one step (start, then delete the entry):
1. right after accept, in the background, by the process that accepted the request;
2. by a sweep in every accepting process, for entries left behind (that process died, Temporal
   was down), once they are `OUTBOX_START_GRACE_SECONDS` old;
3. on demand, when an operator acts on a request before its workflow started.
They may race: the workflow id is the request's, Temporal refuses a second start, and a refused
start counts as done once the existing workflow is seen to hold the same request.
Entries of starts that finish within `DELETE_LINGER` of each other, or while a delete is in flight,
are deleted together (`_Deletions`): under a burst that is one statement for many starts, and each
start still returns only once its own entry is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from temporalio.api.common.v1 import Payload

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
DELETE_LINGER = 0.05
"""How long a delete of started entries waits for more to join it. Under a burst, starts finish a
few milliseconds apart: without the wait nearly every delete held one entry. Only the start's own
return waits this long; the request's answer and its workflow do not."""


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
        self._deletions = _Deletions(self._db)

    def start_soon(self, params: ProvisioningInput, payload: Payload | None = None) -> None:
        """Start the workflow of a request just accepted, without holding up its answer; `payload`
        is `params` as its queued entry stores them (sent as they are)."""
        entry = QueuedStart(params.request.request_id, params, 0, payload)
        task = asyncio.create_task(self._start_or_record(entry), name=f"start-{entry.request_id}")
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    async def start(self, entry: QueuedStart) -> None:
        """Start the entry's workflow, then delete the entry. Raises ServiceUnavailable while Temporal
        (or PostgreSQL, for the delete) cannot answer, StartConflict for another request's workflow."""
        if not await self.gateway.start(entry.params, payload=entry.payload):
            await self._check_same_request(entry)
        await self._deletions.remove(entry.request_id)

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


class _Deletions:
    """Deletes queued entries in batches: the ids that come in during `DELETE_LINGER`, or while
    one delete runs, go together."""

    def __init__(self, db: Callable[..., Awaitable[None]]) -> None:
        self._db = db
        self._waiting: list[tuple[str, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def remove(self, request_id: str) -> None:
        """Return once the entry is deleted; raise what its batch's delete raised."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((request_id, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="outbox-deletes")
        await done

    async def _flush(self) -> None:
        while self._waiting:
            await asyncio.sleep(DELETE_LINGER)  # the starts finishing meanwhile join this delete
            batch, self._waiting = self._waiting, []
            try:
                await self._db(workflow_starts.remove, [request_id for request_id, _ in batch])
            except Exception as error:  # every start in the batch sees it; their entries stay
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
