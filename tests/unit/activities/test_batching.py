"""The worker's ZoneBatcher: changes ready together share a playbook run, whatever their zone,
flushed by size or by age; a cancelled change leaves its batch while queued and never stops its
neighbours' run."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from activities.batching import Batch, ChangeOutcome, ZoneBatcher
from dnsorch.contracts import DnsChange


def change(zone: str = "example.test") -> DnsChange:
    return DnsChange(
        request_id=str(uuid.uuid4()),
        operation="create",
        record_type="A",
        domain=f"h{uuid.uuid4().hex[:6]}.{zone}",
        zone=zone,
        values=["192.0.2.1"],
        ttl=300,
    )


class Runner:
    """Stands in for the playbook: records each batch; `hold` keeps a run going until released."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.batches: list[Batch] = []
        self.refuse = refuse or set()
        self.hold = asyncio.Event()
        self.hold.set()
        self.started = asyncio.Event()

    async def __call__(self, batch: Batch) -> dict[str, ChangeOutcome]:
        self.batches.append(batch)
        self.started.set()
        while not self.hold.is_set() and not batch.cancel.is_set():
            await asyncio.sleep(0.01)
        if batch.cancel.is_set():
            return {}
        return {
            c.request_id: ChangeOutcome("refused" if c.request_id in self.refuse else "applied", "")
            for c in batch.changes
        }


async def test_a_full_batch_is_flushed_at_once_by_size() -> None:
    runner = Runner()
    batcher = ZoneBatcher(runner, max_changes=5, max_wait=60)
    changes = [change() for _ in range(5)]
    started = time.monotonic()
    outcomes = await asyncio.wait_for(asyncio.gather(*(batcher.submit(c) for c in changes)), timeout=5)
    assert time.monotonic() - started < 5  # not the 60 s age
    assert [o.status for o in outcomes] == ["applied"] * 5
    assert len(runner.batches) == 1 and runner.batches[0].reason == "size"
    assert [c.request_id for c in runner.batches[0].changes] == [c.request_id for c in changes]


async def test_a_partial_batch_is_flushed_by_age() -> None:
    runner = Runner()
    batcher = ZoneBatcher(runner, max_changes=100, max_wait=0.2)
    outcomes = await asyncio.wait_for(asyncio.gather(*(batcher.submit(change()) for _ in range(3))), 5)
    assert [o.status for o in outcomes] == ["applied"] * 3
    assert [(len(b.changes), b.reason) for b in runner.batches] == [(3, "age")]


async def test_zones_share_a_run_and_overflow_waits_its_own_turn() -> None:
    """A PTR in a reverse zone rides with the forward changes ready beside it: one playbook start."""
    runner = Runner()
    batcher = ZoneBatcher(runner, max_changes=2, max_wait=0.1)
    ready = [change("a.test"), change("2.0.192.in-addr.arpa"), change("a.test")]
    await asyncio.wait_for(asyncio.gather(*(batcher.submit(c) for c in ready)), timeout=5)
    shapes = [(b.zone, len(b.changes)) for b in runner.batches]
    assert shapes == [("2.0.192.in-addr.arpa+a.test", 2), ("a.test", 1)]


async def test_only_the_refused_change_is_refused() -> None:
    changes = [change() for _ in range(4)]
    runner = Runner(refuse={changes[2].request_id})
    batcher = ZoneBatcher(runner, max_changes=4, max_wait=1)
    outcomes = await asyncio.gather(*(batcher.submit(c) for c in changes))
    assert [o.status for o in outcomes] == ["applied", "applied", "refused", "applied"]


async def test_a_change_cancelled_while_queued_leaves_its_batch() -> None:
    runner = Runner()
    batcher = ZoneBatcher(runner, max_changes=100, max_wait=0.3)
    kept, dropped = change(), change()
    keep = asyncio.create_task(batcher.submit(kept))
    drop = asyncio.create_task(batcher.submit(dropped))
    await asyncio.sleep(0.05)
    drop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await drop
    assert (await keep).status == "applied"
    assert [[c.request_id for c in b.changes] for b in runner.batches] == [[kept.request_id]]


async def test_cancelling_one_change_of_a_running_batch_never_stops_the_others() -> None:
    runner = Runner()
    runner.hold.clear()
    batcher = ZoneBatcher(runner, max_changes=2, max_wait=60)
    first, second = change(), change()
    cancelled = asyncio.create_task(batcher.submit(first))
    other = asyncio.create_task(batcher.submit(second))
    await asyncio.wait_for(runner.started.wait(), timeout=5)
    cancelled.cancel()
    await asyncio.sleep(0.1)
    assert not cancelled.done(), "the cancel took effect while its batch was still running"
    assert not runner.batches[0].cancel.is_set(), "the shared run was stopped"
    runner.hold.set()
    assert (await other).status == "applied"
    assert (await cancelled).status == "applied", "a change DNS now serves must not look cancelled"


async def test_a_change_cancelled_in_a_running_batch_that_was_not_applied_is_cancelled() -> None:
    first, second = change(), change()
    runner = Runner(refuse={first.request_id})
    runner.hold.clear()
    batcher = ZoneBatcher(runner, max_changes=2, max_wait=60)
    cancelled = asyncio.create_task(batcher.submit(first))
    other = asyncio.create_task(batcher.submit(second))
    await asyncio.wait_for(runner.started.wait(), timeout=5)
    cancelled.cancel()
    runner.hold.set()
    assert (await other).status == "applied"
    with pytest.raises(asyncio.CancelledError):
        await cancelled


async def test_a_running_batch_whose_every_change_was_cancelled_is_stopped() -> None:
    runner = Runner()
    runner.hold.clear()
    batcher = ZoneBatcher(runner, max_changes=1, max_wait=60)
    only = asyncio.create_task(batcher.submit(change()))
    await asyncio.wait_for(runner.started.wait(), timeout=5)
    only.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(only, timeout=5)
    assert runner.batches[0].cancel.is_set()


async def test_while_every_run_is_busy_a_burst_gathers_into_one_batch() -> None:
    runner = Runner()
    runner.hold.clear()
    batcher = ZoneBatcher(runner, max_changes=100, max_wait=0.05, max_running=1)
    first = asyncio.create_task(batcher.submit(change()))
    await asyncio.wait_for(runner.started.wait(), timeout=5)
    burst = [asyncio.create_task(batcher.submit(change())) for _ in range(10)]
    await asyncio.sleep(0.3)  # several max_wait periods pass while the only run is busy
    assert len(runner.batches) == 1
    runner.hold.set()
    await asyncio.wait_for(asyncio.gather(first, *burst), timeout=5)
    assert [(len(b.changes), b.reason) for b in runner.batches] == [(1, "age"), (10, "slot")]


async def test_a_second_run_waits_while_the_first_is_young_so_a_burst_gathers() -> None:
    """Two playbook threads, but on a healthy server runs are short: a burst that arrives while one
    runs waits for it and becomes one batch, instead of a second small run competing for the CPU."""
    runner = Runner()
    runner.hold.clear()
    batcher = ZoneBatcher(runner, max_changes=100, max_wait=0.05, max_running=2, overlap_after=60)
    first = asyncio.create_task(batcher.submit(change()))
    await asyncio.wait_for(runner.started.wait(), timeout=5)
    burst = [asyncio.create_task(batcher.submit(change())) for _ in range(10)]
    await asyncio.sleep(0.3)  # several max_wait periods pass while the first run is young
    assert len(runner.batches) == 1
    runner.hold.set()
    await asyncio.wait_for(asyncio.gather(first, *burst), timeout=5)
    assert [(len(b.changes), b.reason) for b in runner.batches] == [(1, "age"), (10, "slot")]


async def test_a_run_stuck_on_a_hung_server_does_not_hold_the_changes_behind_it() -> None:
    """A run that outlives `overlap_after` (say, a server stopped mid-UPDATE) no longer blocks the
    worker: the changes that arrive meanwhile get the second thread and are applied."""
    stuck = asyncio.Event()

    async def run(batch: Batch) -> dict[str, ChangeOutcome]:
        if not runs:
            runs.append(batch)
            await stuck.wait()
        runs.append(batch)
        return {c.request_id: ChangeOutcome("applied") for c in batch.changes}

    runs: list[Batch] = []
    batcher = ZoneBatcher(run, max_changes=100, max_wait=0.01, max_running=2, overlap_after=0.1)
    first = asyncio.create_task(batcher.submit(change()))
    while not runs:
        await asyncio.sleep(0.01)
    later = await asyncio.wait_for(asyncio.gather(*(batcher.submit(change()) for _ in range(3))), 5)
    assert [o.status for o in later] == ["applied"] * 3
    assert not first.done() and runs[1].reason == "overlap"
    stuck.set()
    assert (await asyncio.wait_for(first, timeout=5)).status == "applied"


async def test_runs_never_exceed_the_threads_even_when_all_are_stuck() -> None:
    stuck = asyncio.Event()
    running = 0
    most = 0

    async def run(batch: Batch) -> dict[str, ChangeOutcome]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await stuck.wait()
        running -= 1
        return {c.request_id: ChangeOutcome("applied") for c in batch.changes}

    batcher = ZoneBatcher(run, max_changes=1, max_wait=0.01, max_running=2, overlap_after=0.05)
    tasks = [asyncio.create_task(batcher.submit(change())) for _ in range(5)]
    await asyncio.sleep(0.5)  # many overlap periods pass; every run stays stuck
    assert most == 2
    stuck.set()
    outcomes = await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    assert [o.status for o in outcomes] == ["applied"] * 5 and most == 2
