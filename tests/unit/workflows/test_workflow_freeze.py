"""Freeze windows (issue 26): a request whose zone is frozen waits in FROZEN, on a durable timer,
until the freeze is over, then runs; an operator can cancel it or let it through meanwhile, and an
emergency passes. Stub activities (tests/fixtures/freeze_stubs.py), time-skipping server."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from tests.fixtures.freeze_stubs import FrozenStore
from tests.fixtures.specs import ZONE, request_spec
from tests.fixtures.workflow_stubs import Handle, act, start, until_status, worker
from workflows.provisioning import DnsProvisioningWorkflow


def planned_at(store: FrozenStore) -> datetime:
    return min(step.at for step in store.steps.values() if step.step == "plan")


def lines(store: FrozenStore) -> list[str]:
    return [step.message for step in sorted(store.steps.values(), key=lambda s: s.at)]


async def frozen_store(
    env: WorkflowEnvironment, hours: float, zone: str | None = ZONE
) -> tuple[FrozenStore, str]:
    store = FrozenStore(clock=env.get_current_time)
    now = await env.get_current_time()
    window = store.declare(now - timedelta(hours=1), now + timedelta(hours=hours), "release night", zone)
    return store, window


async def test_a_request_in_a_frozen_zone_waits_and_runs_at_the_windows_end(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store, _ = await frozen_store(time_skipping_env, 6)
    ends = store.windows[0].freeze.ends_at
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await until_status(store, "FROZEN")
        await time_skipping_env.sleep(5 * 3600)
        assert store.turns == [] and store.apply_calls == 0, "something ran during the freeze"
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.statuses() == ["IN_PROGRESS", "FROZEN", "IN_PROGRESS", "COMPLETED"]
    assert planned_at(store) >= ends
    frozen = next(line for line in lines(store) if "→ FROZEN" in line)
    assert ends.isoformat() in frozen and "release night" in frozen


async def test_a_window_for_every_zone_freezes_the_request_too(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store, _ = await frozen_store(time_skipping_env, 2, zone=None)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        final = await handle.result()
    assert "FROZEN" in store.statuses() and final.status == "COMPLETED"
    assert planned_at(store) >= store.windows[0].freeze.ends_at


async def test_a_window_of_another_zone_does_not_hold_the_request(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store, _ = await frozen_store(time_skipping_env, 2, zone="other.test")
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, request_spec())).result()
    assert final.status == "COMPLETED" and "FROZEN" not in store.statuses()


async def test_a_window_extended_meanwhile_keeps_the_request_waiting(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store, window = await frozen_store(time_skipping_env, 2)
    later = store.windows[0].freeze.ends_at + timedelta(hours=8)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await until_status(store, "FROZEN")
        store.extend(window, later)
        await time_skipping_env.sleep(4 * 3600)
        assert store.turns == [] and store.apply_calls == 0, "it ran at the window's first end"
        final = await handle.result()
    assert final.status == "COMPLETED" and planned_at(store) >= later
    assert any(f"still frozen: {ZONE} frozen until {later.isoformat()}" in line for line in lines(store))


async def test_a_window_added_meanwhile_keeps_the_request_waiting(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store, _ = await frozen_store(time_skipping_env, 2)
    first_end = store.windows[0].freeze.ends_at
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await until_status(store, "FROZEN")
        store.declare(first_end - timedelta(hours=1), first_end + timedelta(hours=6), "change freeze", None)
        final = await handle.result()
    assert final.status == "COMPLETED" and planned_at(store) >= first_end + timedelta(hours=6)
    assert any(line.startswith("still frozen: all zones frozen until") for line in lines(store))


async def test_cancel_while_frozen_applies_nothing(time_skipping_env: WorkflowEnvironment) -> None:
    store, _ = await frozen_store(time_skipping_env, 24)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await until_status(store, "FROZEN")
        assert await act(handle, "cancel", "not needed") == "CANCELLED"
        final = await handle.result()
    assert final.status == "CANCELLED" and store.turns == [] and store.apply_calls == 0
    assert store.records == {}


async def test_let_through_goes_ahead_at_once_and_is_on_the_timeline(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store, _ = await frozen_store(time_skipping_env, 24)
    ends = store.windows[0].freeze.ends_at
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await until_status(store, "FROZEN")
        assert await act(handle, "let_through", "outage fix, agreed with the release manager") != "FROZEN"
        final = await handle.result()
    assert final.status == "COMPLETED" and planned_at(store) < ends
    assert any(
        "let through the freeze by alice: outage fix, agreed with the release manager" in line
        for line in lines(store)
    )


async def test_let_through_is_refused_when_the_request_is_not_frozen(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FrozenStore(clock=time_skipping_env.get_current_time)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), approval=True)
        await until_status(store, "PENDING_APPROVAL")
        with pytest.raises(WorkflowUpdateFailedError):
            await act(handle, "let_through")
        await act(handle, "cancel")
        await handle.result()


async def test_an_emergency_passes_the_freeze_on_the_timeline(time_skipping_env: WorkflowEnvironment) -> None:
    store, _ = await frozen_store(time_skipping_env, 24)
    ends = store.windows[0].freeze.ends_at
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, request_spec(emergency=True))).result()
    assert final.status == "COMPLETED" and "FROZEN" not in store.statuses()
    assert planned_at(store) < ends
    assert any(line.startswith("emergency change: passes the freeze") for line in lines(store))


async def test_a_window_ended_early_wakes_the_request_when_signalled(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store, window = await frozen_store(time_skipping_env, 24 * 7)
    ends = store.windows[0].freeze.ends_at
    async with worker(time_skipping_env, store):
        handle: Handle = await start(time_skipping_env, request_spec())
        await until_status(store, "FROZEN")
        store.cancel(window)
        await handle.signal(DnsProvisioningWorkflow.freezes_changed)
        final = await handle.result()
    assert final.status == "COMPLETED" and planned_at(store) < ends - timedelta(days=6)


async def test_a_frozen_request_asks_again_within_the_hour_without_a_signal(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store, window = await frozen_store(time_skipping_env, 24 * 7)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await until_status(store, "FROZEN")
        store.cancel(window)  # its end never reached the workflow
        cancelled_at = await time_skipping_env.get_current_time()
        final = await handle.result()
    assert final.status == "COMPLETED" and planned_at(store) <= cancelled_at + timedelta(hours=1, minutes=1)


async def test_a_dry_run_is_not_held_by_a_freeze(time_skipping_env: WorkflowEnvironment) -> None:
    store, _ = await frozen_store(time_skipping_env, 24)
    async with worker(time_skipping_env, store):
        final = await (
            await start(time_skipping_env, dataclasses.replace(request_spec(), dry_run=True))
        ).result()
    assert final.status == "COMPLETED" and "FROZEN" not in store.statuses() and store.apply_calls == 0


async def test_a_request_waits_for_approval_before_it_is_frozen(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store, _ = await frozen_store(time_skipping_env, 6)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), approval=True)
        await until_status(store, "PENDING_APPROVAL")
        assert await act(handle, "approve", "ok") == "IN_PROGRESS"
        await until_status(store, "FROZEN")
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert store.statuses() == ["PENDING_APPROVAL", "IN_PROGRESS", "FROZEN", "IN_PROGRESS", "COMPLETED"]
