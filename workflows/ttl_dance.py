"""The TTL dance, for DnsProvisioningWorkflow (issue 26): an update of a record served with a long TTL
moves without caches holding the old value for that long.

1. lower the TTL of what is served now to the short TTL, and verify it everywhere;
2. wait out the old TTL on a durable timer (caches forget the long TTL meanwhile);
3. apply the change at the short TTL;
4. verify it everywhere (at the short TTL);
5. restore the request's TTL, and verify it everywhere.

A request dances when it asks (`ttl_dance`), or when it is an update whose served TTL is over
TTL_DANCE_THRESHOLD_SECONDS. Each step is a timeline line and the workflow's current details. A cancel
(or fail) before the change is served everywhere restores the plan's snapshot (old values, old TTL);
a step that fails waits in NEEDS_ATTENTION, where a retry goes on from the first step not done yet.
The dance's state is a TtlDance on the run (`run.dance`, set at the first plan); the steps are
functions that take the run, as the other rooms do. Deterministic code only.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import Action, ApplyResult, DnsChange, OperatorAction, RequestStatus
    from workflows.apply import Settle, apply_change, serve_actions_until
    from workflows.bookkeeping import log
    from workflows.live_dns import roll_back
    from workflows.outcome import Outcome, note
    from workflows.primary import ask_primary
    from workflows.run_state import RequestRun
    from workflows.ttl_dance_state import APPLY, LOWER, RESTORE, TTL_DANCE, WAIT, TtlDance
    from workflows.verify import verify_everywhere

S, A = RequestStatus, Action
__all__ = ["TTL_DANCE", "TtlDance", "lead_in", "restore", "served_ttl", "settle_cancel"]

STEP = "ttl-dance"
"""The timeline step of every line the dance writes."""


# ---- the steps, for attempts.py and cancel_check.py ------------------------------------------------


async def lead_in(run: RequestRun, settle: Settle) -> DnsChange | None:
    """Steps 1 and 2 (those not done yet), then step 3's line; the change to apply (the request's
    own when it does not dance), or None when a step failed (`last_error` set). The workflow applies
    it and verifies it (step 4) as any change."""
    dance, change = run.dance, run.change()
    if dance is None:
        return change
    if run.story.restored:  # a rollback put the old TTL back: dance again from the start
        dance.done.clear()
    if LOWER not in dance.done:
        lowered = dance.lowered(change)
        await _step(run, 1, f"lowering the TTL of {_what(change)} from {dance.old_ttl} to {dance.short_ttl}")
        result = await _apply_step(run, lowered, settle)
        if result is None:
            run.state.last_error = f"TTL dance 1/5: lowering the TTL failed: {run.state.last_error}"
            return None
        if problem := await verify_everywhere(run, lowered, result.served_at):
            run.state.last_error = f"TTL dance 1/5: the lowered TTL is {problem}"
            return None
        dance.done.add(LOWER)
    if WAIT not in dance.done:
        ends = workflow.now() + timedelta(seconds=dance.old_ttl)
        await _step(run, 2, f"waiting out the old TTL ({dance.old_ttl} s) until {ends.isoformat()}")
        timer = asyncio.ensure_future(workflow.sleep(timedelta(seconds=dance.old_ttl)))
        try:
            await serve_actions_until(run, timer.done, None, settle)
        except BaseException:
            timer.cancel()  # an operator or Temporal ended the request during the wait
            raise
        dance.done.add(WAIT)
    await _step(run, 3, f"applying the change at TTL {dance.short_ttl}")
    return dance.applying(change)


async def restore(run: RequestRun, settle: Settle) -> str | None:
    """Steps 4 (the workflow's verification just passed) and 5; what went wrong, if anything."""
    dance, change = run.dance, run.change()
    if dance is None:
        return None
    dance.done.add(APPLY)
    await _step(run, 4, f"the change is served everywhere at TTL {dance.short_ttl}")
    final = dataclasses.replace(change, verify_ttl=True)
    await _step(run, 5, f"restoring the TTL to {dance.final_ttl}")
    result = await _apply_step(run, final, settle)
    if result is None:
        return f"TTL dance 5/5: restoring the TTL failed: {run.state.last_error}"
    if problem := await verify_everywhere(run, final, result.served_at):
        return f"TTL dance 5/5: the restored TTL is {problem}"
    dance.done.add(RESTORE)
    await log(
        run, f"TTL dance done: {_what(change)} is served with TTL {dance.final_ttl} everywhere", step=STEP
    )
    return None


async def served_ttl(run: RequestRun) -> int | None:
    """The TTL the primary serves the change at, when the request ends between the dance's change and
    its restored TTL (a cancel that came too late, a resolve): dns_records records what DNS serves.
    None when the request does not dance or the TTL was restored."""
    dance = run.dance
    if dance is None or APPLY not in dance.done or RESTORE in dance.done:
        return None
    served = await ask_primary(run.change())
    if served.action != "unchanged" or served.old_ttl is None:
        return dance.short_ttl  # unknown: the TTL last verified everywhere
    return served.old_ttl


Unsettle = Callable[[RequestRun, int, str, OperatorAction], Awaitable[None]]
"""Wait in NEEDS_ATTENTION for an operator (cancel_check.py's, which raises Unsettled)."""


async def settle_cancel(
    run: RequestRun,
    action: OperatorAction,
    ticket: int,
    settle: Settle,
    unsettled: Unsettle,
    *,
    ended: str = "",
) -> None:
    """A cancel (or fail) once the TTL may be lowered, before the change is served everywhere:
    restore the snapshot (its values, the old TTL) and end as asked; raises Outcome, or Unsettled
    when the restore failed. Returns when there is nothing to restore."""
    dance = run.dance
    if dance is None or action.action not in (A.CANCEL, A.FAIL) or not run.state.attempts:
        return
    if APPLY in dance.done or run.story.restored:
        return
    verb = "cancelled" if action.action == A.CANCEL else "failed"
    ended = ended or f"{verb} by {action.actor}{note(action)}"
    before = f"{', '.join(dance.values)} at TTL {dance.old_ttl}"
    await log(run, f"TTL dance stopped ({ended}): restoring {before}", step=STEP, actor=action.actor)
    dance.done.clear()
    problem = await roll_back(run, settle)
    if problem is not None:
        await unsettled(run, ticket, f"{ended}: the TTL dance could not restore {before}: {problem}", action)
    raise Outcome(
        S.CANCELLED if action.action == A.CANCEL else S.FAILED,
        f"{ended}: the TTL dance had lowered the TTL; restored {before}",
        action.actor,
        ticket,
    )


async def _apply_step(run: RequestRun, change: DnsChange, settle: Settle) -> ApplyResult | None:
    """Apply one of the dance's own steps: a cancel meanwhile, even one whose batch was already
    running, is no "came too late" for the request's change (apply.applied_anyway)."""
    run.dance_step_applying = True
    try:
        return await apply_change(run, change, settle)
    finally:
        run.dance_step_applying = False
        run.apply_handle = None  # a later cancel must not take this apply for the change


async def _step(run: RequestRun, number: int, message: str) -> None:
    run.state.step = f"{STEP} {number}/5"
    workflow.set_current_details(f"**TTL dance {number}/5**: {message}")
    await log(run, f"TTL dance {number}/5: {message}", step=STEP)


def _what(change: DnsChange) -> str:
    return f"{change.record_type} {change.domain}"
