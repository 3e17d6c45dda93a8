"""The name's turn, for DnsProvisioningWorkflow: before it reads or changes DNS, a request holds the
name (and the names its ownership ties to it) so that no other request changes them meanwhile; a
drift request then checks that nothing newer has superseded it. Deterministic code only."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.database import DatabaseActivities
    from activities.name_claims import NameTurnActivities
    from activities.turns_and_plans import TurnsAndPlansActivities
    from dnsorch.contracts import ChangePlan, DnsChange, RequestStatus, TurnsPlanned, TurnsToPlan
    from workflows.apply import Settle, serve_actions_until
    from workflows.bookkeeping import log
    from workflows.outcome import Outcome
    from workflows.patches import SERVED_STANDS_ASKS_DNS, SERVED_STANDS_AT_TURN, patched
    from workflows.policy import (
        DB_RETRY,
        DB_TIMEOUT,
        TURN_RETRY,
        TURN_TIMEOUT,
        TURNS_AND_PLANS_TIMEOUT,
        failure_reason,
        refused_for_good,
    )
    from workflows.primary import ask_primary
    from workflows.resolve_check import serves
    from workflows.run_state import RequestRun

S = RequestStatus


async def take_turn(
    run: RequestRun, change: DnsChange, settle: Settle, *, plan: bool = False
) -> ChangePlan | None:
    """Hold the name, and the names its ownership ties to it, before reading or changing DNS;
    the request's next status lets it go (dnsorch/store/name_claims.py). `plan`: the plan read
    under the turn too (`take_turns_and_plan`), else None."""
    if plan:
        return (await take_turns_and_plan(run, [change], settle))[0]
    try:
        first = await workflow.execute_local_activity_method(
            NameTurnActivities.take_name_turn,
            change,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        if first:
            await _wait_for_turn(run, change, first, settle)
    except (ActivityError, ApplicationError) as error:  # a local activity's comes unwrapped
        if not refused_for_good(error):
            raise
        await _refused(run, error)
    return None


async def take_turns_and_plan(run: RequestRun, changes: list[DnsChange], settle: Settle) -> list[ChangePlan]:
    """The turn on each change's name in order, then each one's plan, in one local activity
    (fewer-steps-to-apply); a name another request holds first is waited for as `take_turn` waits,
    then the activity is asked again (the names held already are only renewed)."""
    try:
        while True:
            answer: TurnsPlanned = await workflow.execute_local_activity_method(
                TurnsAndPlansActivities.take_turns_and_plan,
                TurnsToPlan(changes),
                start_to_close_timeout=TURNS_AND_PLANS_TIMEOUT,
                retry_policy=DB_RETRY,
            )
            if not answer.first:
                return answer.plans
            await _wait_for_turn(run, changes[answer.waits_at], answer.first, settle)
    except (ActivityError, ApplicationError) as error:  # a local activity's comes unwrapped
        if not refused_for_good(error):
            raise
        await _refused(run, error)


async def _wait_for_turn(run: RequestRun, change: DnsChange, first: str, settle: Settle) -> None:
    """Another request goes first: wait for the turn in an activity of its own, serving operator
    actions meanwhile (a cancel stops the wait)."""
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


async def _refused(run: RequestRun, error: ActivityError | ApplicationError) -> NoReturn:
    """The name is another account's by its turn (or the request ended): the request ends. An
    earlier attempt's change that every server served stands, if the primary still serves it."""
    if run.story.everywhere and patched(SERVED_STANDS_AT_TURN):
        if patched(SERVED_STANDS_ASKS_DNS) and not serves(await ask_primary(run.change()), run.change()):
            raise Outcome(
                S.REJECTED,
                f"refused: {failure_reason(error)}; an earlier attempt's change was served, but the "
                "primary no longer serves it (another request changed the name since), so nothing of "
                "this request stands",
            ) from None
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
