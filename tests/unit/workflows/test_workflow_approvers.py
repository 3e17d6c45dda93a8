"""N distinct approvers (issue 26; patch distinct-approvers): a held request goes ahead only after
as many approvals by distinct API keys as its risks require; each approval is on the timeline with
who and when; a key that approved already, the submitter's key or account (four eyes), and an
approval that names no key (a signal from the Temporal UI) do not count. One approval still
approves when nothing asks for more. Stub activities, time-skipping server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import LogStep, OperatorAction
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, Handle, start, until_status, worker
from workflows.provisioning import DnsProvisioningWorkflow

DAY = 24 * 3600


async def approve(handle: Handle, key_id: str, actor: str, account: str = "acct-ops", note: str = "") -> str:
    action = OperatorAction("approve", actor, note, key_id=key_id, account_id=account)
    return await handle.execute_update(DnsProvisioningWorkflow.act, action)


def approval_lines(store: FakeStore) -> list[LogStep]:
    return sorted(
        (s for s in store.steps.values() if "approv" in s.message and not s.status), key=lambda s: s.at
    )


async def test_two_approvers_are_needed_and_each_is_on_the_timeline_with_who_and_when(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(
            time_skipping_env, request_spec(), approval=True, approval_timeout=DAY, approvals_required=2
        )
        await until_status(store, "PENDING_APPROVAL")
        assert await approve(handle, "k-alice", "alice (operator)", note="looks right") == "PENDING_APPROVAL"
        await time_skipping_env.sleep(3600)
        assert store.apply_calls == 0, "applied after one approval of two"
        assert await approve(handle, "k-alice", "alice (operator)") == "PENDING_APPROVAL", (
            "the same key twice"
        )
        assert store.apply_calls == 0
        assert await approve(handle, "k-bob", "bob (operator)") in ("IN_PROGRESS", "COMPLETED")
        final = await handle.result()
    assert final.status == "COMPLETED"
    first, again, second = approval_lines(store)
    assert (first.message, first.actor, first.approver) == (
        "approval 1 of 2 by alice (operator): looks right",
        "alice (operator)",
        "k-alice",
    )
    assert "not counted" in again.message and "approved already" in again.message and again.approver is None
    assert (second.message, second.approver) == ("approval 2 of 2 by bob (operator)", "k-bob")
    assert second.at - first.at >= timedelta(hours=1), "each approval keeps its own time"


async def test_an_approval_that_names_no_key_does_not_count_under_four_eyes(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """The Temporal UI sends the `action` signal with whatever actor its user types, and no key."""
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(
            time_skipping_env,
            request_spec(submitted_by="k-sub"),
            approval=True,
            approval_timeout=DAY,
            four_eyes=True,
        )
        await until_status(store, "PENDING_APPROVAL")
        await handle.signal(DnsProvisioningWorkflow.action, OperatorAction("approve", "carol", "from the UI"))
        assert await approve(handle, "k-sub", "sub (admin)") == "PENDING_APPROVAL", "the submitter's key"
        assert await approve(handle, "k-mate", "mate (submitter)", account="acct-42") == "PENDING_APPROVAL"
        assert store.apply_calls == 0
        assert await approve(handle, "k-rev", "rev (operator)") in ("IN_PROGRESS", "COMPLETED")
        final = await handle.result()
    assert final.status == "COMPLETED"
    lines = [s.message for s in approval_lines(store)]
    assert lines[0].startswith("approval by carol not counted: it names no API key")
    assert "the key that submitted the request" in lines[1]
    assert "acct-42 submitted the request" in lines[2]
    assert lines[3] == "approved by rev (operator)"


async def test_with_one_approver_and_no_four_eyes_any_approval_approves_as_before(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec(), approval=True, approval_timeout=DAY)
        await until_status(store, "PENDING_APPROVAL")
        await handle.signal(DnsProvisioningWorkflow.action, OperatorAction("approve", "carol", "from the UI"))
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert [s.message for s in approval_lines(store)] == ["approved by carol: from the UI"]


async def test_the_deadline_counts_from_the_first_wait_not_from_each_approval(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(
            time_skipping_env, request_spec(), approval=True, approval_timeout=DAY, approvals_required=3
        )
        await until_status(store, "PENDING_APPROVAL")
        await time_skipping_env.sleep(20 * 3600)
        await approve(handle, "k-alice", "alice (operator)")
        final = await handle.result()
    assert final.status == "REJECTED" and store.apply_calls == 0
    assert "no approval in time (1 d)" in final.log[-1]["message"]
    # The workflow's own clock, from its timeline: the server's clock may skip on once it has ended.
    held, rejected = (
        next(s.at for s in store.steps.values() if s.status == status)
        for status in ("PENDING_APPROVAL", "REJECTED")
    )
    assert rejected - held < timedelta(hours=25), "an approval must not restart the deadline"


async def test_a_reject_after_some_approvals_ends_the_request(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(
            time_skipping_env, request_spec(), approval=True, approval_timeout=DAY, approvals_required=2
        )
        await until_status(store, "PENDING_APPROVAL")
        await approve(handle, "k-alice", "alice (operator)")
        await asyncio.sleep(0)
        rejected = await handle.execute_update(
            DnsProvisioningWorkflow.act, OperatorAction("reject", "bob (operator)", "not now", key_id="k-bob")
        )
        final = await handle.result()
    assert rejected == final.status == "REJECTED" and store.apply_calls == 0


async def test_the_state_query_shows_who_approved_with_their_key_and_how_many_are_needed(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(
            time_skipping_env, request_spec(), approval=True, approval_timeout=DAY, approvals_required=2
        )
        await until_status(store, "PENDING_APPROVAL")
        await approve(handle, "k-alice", "alice (operator)")
        await approve(handle, "k-alice", "alice (operator)")  # the same key again: not counted
        state = await handle.query(DnsProvisioningWorkflow.state)
        assert state.approvals == {
            "required": 2,
            "approvers": [{"actor": "alice (operator)", "key_id": "k-alice"}],
        }
        await approve(handle, "k-bob", "bob (operator)")
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert final.approvals is not None
    assert [(a["actor"], a["key_id"]) for a in final.approvals["approvers"]] == [
        ("alice (operator)", "k-alice"),
        ("bob (operator)", "k-bob"),
    ]


async def test_a_request_never_held_reports_no_approvals(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        final = await handle.result()
    assert final.status == "COMPLETED" and final.approvals is None
