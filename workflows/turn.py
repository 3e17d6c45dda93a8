"""The name's turn, for DnsProvisioningWorkflow: before it reads or changes DNS, a request holds the
name (and the names its ownership ties to it) so that no other request changes them meanwhile; a
drift request then checks that nothing newer has superseded it. Deterministic code only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.database import DatabaseActivities
    from activities.name_claims import NameTurnActivities
    from dnsorch.contracts import DnsChange, RequestStatus
    from workflows.apply import Settle, serve_actions_until
    from workflows.bookkeeping import log
    from workflows.outcome import Outcome
    from workflows.patches import SERVED_STANDS_AT_TURN
    from workflows.policy import (
        DB_RETRY,
        DB_TIMEOUT,
        TURN_RETRY,
        TURN_TIMEOUT,
        failure_reason,
        refused_for_good,
    )
    from workflows.run_state import RequestRun

S = RequestStatus


async def take_turn(run: RequestRun, change: DnsChange, settle: Settle) -> None:
    """Hold the name, and the names its ownership ties to it, before reading or changing DNS;
    the request's next status lets it go (dnsorch/store/name_claims.py)."""
    try:
        first = await workflow.execute_local_activity_method(
            NameTurnActivities.take_name_turn,
            change,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        if not first:
            return
        await log(run, f"waiting for request {first}, which changes {change.domain} first", step="turn")
        workflow.set_current_details(f"waiting for other changes to {change.domain} to finish")
        assert run.params is not None
        waiting = workflow.start_activity_method(
            NameTurnActivities.wait_for_name_turn,
            change,
            start_to_close_timeout=TURN_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=run.params.policy.heartbeat_seconds),
            retry_policy=TURN_RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=f"waiting for the turn on {change.domain}",
        )
        try:
            await serve_actions_until(run, waiting.done, None, settle)
        except (Exception, asyncio.CancelledError):
            waiting.cancel()  # an operator ended the request, or Temporal cancelled it
            await asyncio.gather(waiting, return_exceptions=True)
            raise
        await waiting
    except (ActivityError, ApplicationError) as error:  # a local activity's comes unwrapped
        if not refused_for_good(error):
            raise
        if run.story.everywhere and workflow.patched(SERVED_STANDS_AT_TURN):
            raise Outcome(
                S.COMPLETED,
                f"refused at the name's turn ({failure_reason(error)}), but an earlier attempt's "
                f"change is served by every authoritative server and stays; {run.story.ptr_note()}",
                store_record=True,
            ) from None
        raise Outcome(S.REJECTED, f"refused: {failure_reason(error)}") from None


async def check_not_superseded(run: RequestRun) -> None:
    """A drift request restores what dnsorch recorded when it was raised; if the record set has been
    changed through dnsorch since (an operator retrying it later), restoring would undo that."""
    why = await workflow.execute_local_activity_method(
        DatabaseActivities.superseded,
        run.request,
        start_to_close_timeout=DB_TIMEOUT,
        retry_policy=DB_RETRY,
    )
    if why:
        raise Outcome(S.CANCELLED, why)
