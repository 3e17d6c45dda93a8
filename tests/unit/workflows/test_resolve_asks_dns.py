"""An operator's `resolve` records the request's change as served (COMPLETED, with its record), so it
asks the primary first: a final status never contradicts DNS, and dns_records never holds what DNS
does not serve. Found by the soak (SEED=11): a drift restore the primary did not serve was resolved,
and dns_records kept a CNAME nobody served. Stub primary, time-skipping timers."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import StatusChange
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import BEFORE, Handle, Primary, act, start, until_status, worker
from workflows.provisioning import DnsProvisioningWorkflow

REFUSED = ApplicationError("REFUSED by the primary", type="DnsChangeRejected", non_retryable=True)


def refused_primary() -> Primary:
    """A primary that refuses the request's UPDATE: it keeps serving BEFORE."""
    return Primary(fail_types={"A": REFUSED})


async def needing_attention(env: WorkflowEnvironment, primary: Primary) -> Handle:
    """A create the primary refused: it waits in NEEDS_ATTENTION for an operator."""
    handle = await start(env, request_spec())
    await until_status(primary, "NEEDS_ATTENTION")
    return handle


async def test_resolve_is_refused_while_the_primary_does_not_serve_the_change(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    primary = refused_primary()
    async with worker(time_skipping_env, primary):
        handle = await needing_attention(time_skipping_env, primary)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, "resolve", "looks fine to me")
        reason = str(refused.value.cause)
        assert "the primary does not serve the change" in reason and BEFORE in reason
        state = await handle.query(DnsProvisioningWorkflow.state)
        assert state.status == "NEEDS_ATTENTION"
        assert "resolve" in state.allowed_actions  # once DNS is fixed, it may resolve again
        assert primary.records == {}

        primary.serves = ["192.0.2.10"]  # an operator fixes DNS by hand
        assert await act(handle, "resolve", "fixed by hand") == "COMPLETED"
        final = await handle.result()
    assert final.status == "COMPLETED"
    assert [row.target for row in primary.records.values()] == ["192.0.2.10"]


async def test_resolve_is_refused_when_the_primary_cannot_be_asked(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    primary = refused_primary()
    async with worker(time_skipping_env, primary):
        handle = await needing_attention(time_skipping_env, primary)
        primary.unreachable = True
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, "resolve")
        assert "whether the primary serves the change is unknown" in str(refused.value.cause)
        assert (await handle.query(DnsProvisioningWorkflow.state)).status == "NEEDS_ATTENTION"
        assert primary.records == {}
        await act(handle, "fail", "giving up")
        assert (await handle.result()).status == "FAILED"


async def test_a_v1_manual_completed_the_primary_does_not_serve_is_logged_and_ignored(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    primary = refused_primary()
    async with worker(time_skipping_env, primary):
        handle = await needing_attention(time_skipping_env, primary)
        await handle.signal(
            DnsProvisioningWorkflow.update_status, StatusChange("COMPLETED", "done", actor="bob")
        )
        await act(handle, "cancel", "never mind")  # carried out after the signal's resolve
        final = await handle.result()
    assert final.status == "CANCELLED"
    assert primary.records == {}
    refusal = [s for s in primary.steps.values() if "the primary does not serve the change" in s.message]
    assert refusal and refusal[0].actor == "bob"


async def test_resolve_during_an_apply_whose_update_reached_the_primary_completes(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    primary = Primary(hold_apply=True)  # the UPDATE is served; the playbook never returns
    async with worker(time_skipping_env, primary):
        handle = await start(time_skipping_env, request_spec())
        await until_status(primary, "IN_PROGRESS")
        while not primary.applied:
            await time_skipping_env.sleep(0.1)
        assert await act(handle, "resolve", "it is served") == "COMPLETED"
    assert [row.target for row in primary.records.values()] == ["192.0.2.10"]


async def test_resolve_during_an_apply_that_never_reached_the_primary_waits_for_an_operator(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    primary = Primary(hold_at_ttl=300)  # the apply hangs before its UPDATE is sent
    async with worker(time_skipping_env, primary):
        handle = await start(time_skipping_env, request_spec())
        while not primary.applied:
            await time_skipping_env.sleep(0.1)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await act(handle, "resolve")
        assert "the primary does not serve the change" in str(refused.value.cause)
        assert primary.apply_cancelled  # the apply was stopped before DNS was asked
        state = await handle.query(DnsProvisioningWorkflow.state)
        assert state.status == "NEEDS_ATTENTION" and primary.records == {}
        await act(handle, "cancel")
        assert (await handle.result()).status == "CANCELLED"
