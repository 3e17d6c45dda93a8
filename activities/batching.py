"""In-worker coalescing of apply activities: the changes that are ready within a short window are
applied by one playbook run, and each activity awaits its own change's outcome.

The changes of every zone share the queue: the playbook sends one UPDATE per zone anyway, so a PTR
in a reverse zone rides in the same run as the forward changes beside it, and a playbook start
(most of a run's CPU) is shared by more changes. `Batch.zone` names the zones a run carries.

Flushed when the queue holds `max_changes` changes (reason "size") or its oldest change has waited
`max_wait` seconds (reason "age"). At most `max_running` batches run at once (the worker's playbook
threads), and a further run starts beside running ones only once each of them has run
`overlap_after` seconds (reason "overlap"): on a healthy server runs are short, and a burst that
arrives during one waits for it and becomes one large batch (reason "slot") rather than a second
small run competing for the same CPU; a run stuck on a hung server still leaves the other threads
to the changes behind it.
Nothing here is durable, on purpose: each change still belongs
to its own activity, so a worker that dies mid-batch only makes those activities time out and be
retried by Temporal, into a new batch; a change sets the whole RRset, so applying it twice is
harmless. Two changes to one name never share a batch: the name's lock lets one at a time apply.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dnsorch.contracts import DnsChange


@dataclass
class ChangeOutcome:
    """What the playbook reported for one change."""

    status: str
    """"applied"; "conflict" (the data says no, e.g. create of an RRset that exists: the request is
    rejected); "refused" (the server said no, e.g. zone not served: final, for an operator); or
    "failed" (retryable)."""
    message: str = ""


_ALL_ZONES = ""
"""The one queue's key (kept as a key, so a queue per zone stays a one-line change)."""


@dataclass
class Batch:
    zone: str
    """The zones of its changes, sorted, joined by "+"."""
    changes: list[DnsChange]
    reason: str
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set once every change in the batch was cancelled: nobody needs the run any more."""


RunBatch = Callable[[Batch], Awaitable[dict[str, ChangeOutcome]]]


@dataclass(eq=False)
class _Waiting:
    change: DnsChange
    outcome: asyncio.Future[ChangeOutcome]
    batch: Batch | None = None
    cancelled: bool = False


@dataclass
class _Zone:
    waiting: list[_Waiting] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class ZoneBatcher:
    """One per worker. `submit` is called by each apply activity and returns its change's outcome."""

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        max_changes: int,
        max_wait: float,
        max_running: int = 4,
        overlap_after: float = 0.0,
    ) -> None:
        self._run_batch = run_batch
        self._max_running = max(1, max_running)
        self._overlap_after = max(0.0, overlap_after)
        self._recheck: asyncio.TimerHandle | None = None
        self._due: list[str] = []  # zones whose batch is due, waiting for a free run, in order
        self._max_changes = max(1, max_changes)
        self._max_wait = max(0.0, max_wait)
        self._zones: dict[str, _Zone] = {}
        self._running: dict[asyncio.Task[None], float] = {}  # each run's start (loop time)
        self._members: dict[int, list[_Waiting]] = {}

    async def submit(self, change: DnsChange) -> ChangeOutcome:
        """Queue the change and wait for its outcome.

        Cancelled while queued: the change leaves the batch and is never applied. Cancelled once
        its batch runs: the playbook is not interrupted while it carries other requests' changes
        (it is killed when every change in it was cancelled), and the caller waits for the run to
        end, so nothing is still changing the name when it moves on. If the run applied the change
        anyway, the cancel came too late and its outcome is returned: the caller must not report a
        change as cancelled that DNS serves.
        """
        waiting = _Waiting(change, asyncio.get_running_loop().create_future())
        zone = self._zones.setdefault(_ALL_ZONES, _Zone())
        zone.waiting.append(waiting)
        if len(zone.waiting) >= self._max_changes:
            self._flush(_ALL_ZONES, "size")
        elif zone.timer is None:
            zone.timer = asyncio.get_running_loop().call_later(self._max_wait, self._flush, _ALL_ZONES, "age")
        try:
            return await asyncio.shield(waiting.outcome)
        except asyncio.CancelledError:
            if waiting in zone.waiting:  # still queued: take it out of its batch
                zone.waiting.remove(waiting)
                waiting.outcome.cancel()
            else:
                waiting.cancelled = True
                batch = waiting.batch
                if batch is not None and all(w.cancelled for w in self._members.get(id(batch), [])):
                    batch.cancel.set()
                await asyncio.wait({waiting.outcome})
                if not waiting.outcome.cancelled() and waiting.outcome.result().status == "applied":
                    return waiting.outcome.result()
            raise

    def _flush(self, zone_name: str, reason: str) -> None:
        zone = self._zones.get(zone_name)
        if zone is None:
            return
        if zone.timer is not None:
            zone.timer.cancel()
            zone.timer = None
        if self._wait_for_a_run():
            if zone_name not in self._due:
                self._due.append(zone_name)
            return
        self._start(zone_name, zone, reason if not self._running else "overlap")

    def _wait_for_a_run(self) -> bool:
        """True while no further run may start: every thread is busy, or a running batch is still
        younger than `overlap_after` (then a timer starts the due batches once it is not)."""
        if len(self._running) >= self._max_running:
            return True
        if not self._running:
            return False
        loop = asyncio.get_running_loop()
        wait = max(self._running.values()) + self._overlap_after - loop.time()
        if wait <= 0:
            return False
        if self._recheck is None:
            self._recheck = loop.call_later(wait, self._start_due, "overlap")
        return True

    def _start(self, zone_name: str, zone: _Zone, reason: str) -> None:
        taken, zone.waiting = zone.waiting[: self._max_changes], zone.waiting[self._max_changes :]
        if zone.waiting:  # more than a batch arrived: the rest waits its own (short) turn
            zone.timer = asyncio.get_running_loop().call_later(self._max_wait, self._flush, zone_name, "age")
        else:
            del self._zones[zone_name]
        if not taken:
            return
        zones = "+".join(sorted({w.change.zone for w in taken}))
        batch = Batch(zones, [w.change for w in taken], reason)
        for waiting in taken:
            waiting.batch = batch
        self._members[id(batch)] = taken
        task = asyncio.create_task(self._run(batch, taken))
        self._running[task] = asyncio.get_running_loop().time()
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        """A run ended: the zone whose batch has waited longest for a free run starts now."""
        self._running.pop(task, None)
        self._start_due("slot")

    def _start_due(self, reason: str) -> None:
        """Start the due batches, oldest first, while a run may start."""
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        while self._due and not self._wait_for_a_run():
            zone_name = self._due.pop(0)
            zone = self._zones.get(zone_name)
            if zone is not None and zone.waiting:
                if zone.timer is not None:
                    zone.timer.cancel()
                    zone.timer = None
                self._start(zone_name, zone, reason if not self._running else "overlap")

    async def _run(self, batch: Batch, taken: list[_Waiting]) -> None:
        try:
            outcomes = await self._run_batch(batch)
        except Exception as error:  # the whole run failed: every change gets its reason
            outcomes = {
                w.change.request_id: ChangeOutcome("failed", f"batch run failed: {error}") for w in taken
            }
        finally:
            self._members.pop(id(batch), None)
        for waiting in taken:
            if waiting.outcome.done():
                continue
            waiting.outcome.set_result(
                outcomes.get(waiting.change.request_id)
                or ChangeOutcome("failed", "the playbook reported no outcome for this change")
            )
