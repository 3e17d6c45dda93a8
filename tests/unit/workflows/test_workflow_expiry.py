"""Expiring records (issue 26): RecordExpiryWorkflow warns `warning_seconds` before the expiry, starts
the delete at it, and an extension moves both; a record replaced meanwhile is never deleted. Stub
activities, time-skipping server."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ExtendExpiry
from tests.fixtures.expiry_stubs import ExpiryStore, expiry_worker, start_expiry
from workflows.expiry import RecordExpiryWorkflow

HOUR = 3600


async def test_the_warning_goes_out_before_the_expiry_and_the_delete_starts_at_it(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = ExpiryStore()
    expires_at = await time_skipping_env.get_current_time() + timedelta(hours=10)
    async with expiry_worker(time_skipping_env, store):
        handle = await start_expiry(time_skipping_env, expires_at, warning_seconds=2 * HOUR)
        await time_skipping_env.sleep(7 * HOUR)
        assert store.warnings == [] and store.expiries == [], "acted hours before its time"
        final = await handle.result()
    [warning] = store.warnings
    assert expires_at - timedelta(hours=2) <= warning.at < expires_at
    assert warning.expires_at == expires_at
    [expiry] = store.expiries
    assert expiry.at >= expires_at
    assert final.phase == "done" and final.delete_request_id == f"delete-of-{final.request_id}"


async def test_a_warning_time_already_passed_warns_at_once(time_skipping_env: WorkflowEnvironment) -> None:
    store = ExpiryStore()
    now = await time_skipping_env.get_current_time()
    async with expiry_worker(time_skipping_env, store):
        handle = await start_expiry(time_skipping_env, now + timedelta(minutes=5), warning_seconds=24 * HOUR)
        await handle.result()
    [warning] = store.warnings
    assert warning.at - now < timedelta(minutes=1)


async def test_an_extension_moves_both_the_warning_and_the_expiry(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = ExpiryStore()
    now = await time_skipping_env.get_current_time()
    first, later = now + timedelta(hours=10), now + timedelta(hours=40)
    async with expiry_worker(time_skipping_env, store):
        handle = await start_expiry(time_skipping_env, first, warning_seconds=2 * HOUR)
        await time_skipping_env.sleep(9 * HOUR)  # warned for the first time, not yet expired
        assert [w.expires_at for w in store.warnings] == [first]
        moved = ExtendExpiry(expires_at=later, actor="acct-42 key k1", note="still needed")
        assert await handle.execute_update(RecordExpiryWorkflow.extend, moved) == later.isoformat()
        await time_skipping_env.sleep(3 * HOUR)
        assert store.expiries == [], "the old expiry time still deleted"
        final = await handle.result()
    assert [w.expires_at for w in store.warnings] == [first, later]
    assert later - timedelta(hours=2) <= store.warnings[1].at < later
    [expiry] = store.expiries
    assert expiry.at >= later and expiry.expires_at == later
    [move] = store.moves
    assert (move.previous, move.expires_at, move.actor, move.note) == (
        first,
        later,
        "acct-42 key k1",
        "still needed",
    )
    assert final.expires_at == later


async def test_an_extension_before_the_warning_sends_one_warning_for_the_new_time(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = ExpiryStore()
    now = await time_skipping_env.get_current_time()
    later = now + timedelta(days=3)
    async with expiry_worker(time_skipping_env, store):
        handle = await start_expiry(time_skipping_env, now + timedelta(hours=10), warning_seconds=2 * HOUR)
        await handle.execute_update(RecordExpiryWorkflow.extend, ExtendExpiry(expires_at=later, actor="op"))
        await handle.result()
    assert [w.expires_at for w in store.warnings] == [later]
    assert store.warnings[0].at >= later - timedelta(hours=2)
    assert store.expiries[0].at >= later


async def test_a_record_replaced_meanwhile_is_never_deleted(time_skipping_env: WorkflowEnvironment) -> None:
    store = ExpiryStore(superseded="A www.example.test was replaced by request r2 since: the expiry is void")
    now = await time_skipping_env.get_current_time()
    async with expiry_worker(time_skipping_env, store):
        handle = await start_expiry(time_skipping_env, now + timedelta(hours=5), warning_seconds=HOUR)
        final = await handle.result()
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):  # nothing left to extend
            await handle.execute_update(
                RecordExpiryWorkflow.extend, ExtendExpiry(expires_at=now + timedelta(days=1), actor="op")
            )
    assert store.warnings == [] and store.expiries == []
    assert final.phase == "done" and "replaced by request r2" in final.outcome and not final.delete_request_id


async def test_at_expiry_a_request_in_flight_on_the_record_is_waited_for_less_often_each_time(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = ExpiryStore(busy_answers=6)
    now = await time_skipping_env.get_current_time()
    async with expiry_worker(time_skipping_env, store):
        handle = await start_expiry(
            time_skipping_env, now + timedelta(hours=1), warning_seconds=60, recheck_seconds=1200
        )
        final = await handle.result()
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(store.expiries)]
    assert len(store.expiries) == 7 and final.delete_request_id
    assert [round(gap.total_seconds() / 60) for gap in gaps] == [20, 40, 60, 60, 60, 60]


async def test_an_extension_to_a_time_passed_or_after_expiry_is_refused(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = ExpiryStore()
    now = await time_skipping_env.get_current_time()
    async with expiry_worker(time_skipping_env, store):
        handle = await start_expiry(time_skipping_env, now + timedelta(hours=2), warning_seconds=HOUR)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                RecordExpiryWorkflow.extend, ExtendExpiry(expires_at=now - timedelta(hours=1), actor="op")
            )
        await handle.result()
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):
            await handle.execute_update(
                RecordExpiryWorkflow.extend, ExtendExpiry(expires_at=now + timedelta(days=1), actor="op")
            )
    assert store.moves == [] and len(store.expiries) == 1
