"""Freeze windows, for DnsProvisioningWorkflow (issue 26): just before its first plan, a request asks
whether its zone is frozen (dnsorch/store/freezes.py, through a local activity). If it is, it waits
in FROZEN, with the window's end and reason on its timeline, on a durable timer until the window
ends, then asks again: a window extended or added meanwhile keeps it waiting. An operator's `cancel`
ends it CANCELLED meanwhile (nothing applied); `let_through` (with a note) lets it go ahead now. An
emergency request passes a freeze, saying so on its timeline. Deterministic code only.

How a window ended early reaches a waiting request: the API that ends it signals `freezes_changed`
to every FROZEN request (dnsorch/requests/freezes.py), which asks again at once. A signal lost on
the way (the API died between the two) costs at most FREEZE_RECHECK: the wait never sleeps longer
before it asks again. Polling every few minutes instead would add a timer and a local activity per
poll to every frozen request's history: a three-day freeze would outgrow Temporal's suggested
history size.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.freezes import FreezeActivities
    from dnsorch.contracts import PTR_SOURCE, Action, Freeze, RequestStatus
    from workflows.bookkeeping import log, transition
    from workflows.messages import STARTED
    from workflows.operators import end_by, take_legal
    from workflows.outcome import note
    from workflows.patches import patched
    from workflows.policy import DB_RETRY, DB_TIMEOUT
    from workflows.run_state import RequestRun

S, A = RequestStatus, Action

# Before its first plan, a request in a frozen zone waits in FROZEN until the freeze is over.
FREEZE_WINDOWS = "freeze-windows"
FREEZE_RECHECK = timedelta(hours=1)
"""The longest a FROZEN request sleeps before it asks again, whatever the window's end."""
_SHORTEST_WAIT = timedelta(seconds=1)
"""A window that ends in the past by the workflow's clock (the database's is ahead) is asked again."""


async def wait_out_freeze(run: RequestRun, *, held: bool = False) -> None:
    """1. Ask whether the zone is frozen now; not frozen: go on. 2. An emergency passes, on the
    timeline. 3. FROZEN (a line when the freeze found is another than before) until the window's
    end, `let_through` or a window ended early; `cancel` ends the request. Then back to 1.

    Not asked: a request held in NEEDS_ATTENTION (an operator's retry decides when it runs), a
    dry run (it changes nothing) and a PTR request (it follows a forward change already applied)."""
    request = run.request
    if held or request.dry_run or request.source == PTR_SOURCE or not patched(FREEZE_WINDOWS):
        return
    if run.state.status != S.IN_PROGRESS:  # as the first attempt would, before the check: an
        await transition(run, S.IN_PROGRESS, STARTED, step="apply")  # approve answers IN_PROGRESS
    waited: Freeze | None = None
    while (freeze := await _freeze_now(run)) is not None:
        if request.emergency:
            await log(run, f"emergency change: passes the freeze ({freeze.describe()})", step="freeze")
            return
        if waited is None:
            await transition(run, S.FROZEN, f"waiting: {freeze.describe()}", step="freeze")
        elif (freeze.window_id, freeze.ends_at) != (waited.window_id, waited.ends_at):
            await log(run, f"still frozen: {freeze.describe()}", step="freeze")
        waited = freeze
        if await _sleep_through(run, freeze):
            return


async def _freeze_now(run: RequestRun) -> Freeze | None:
    if (begun := run.begun) is not None:  # asked with the first status, earlier in this task (which
        run.begun = None  # also reset `freezes_changed` before it asked: bookkeeping.py)
        return begun.freeze
    run.freezes_changed = False  # a window ended from now on wakes the wait that follows
    return await workflow.execute_local_activity_method(
        FreezeActivities.freeze_at,
        run.request.zone,
        start_to_close_timeout=DB_TIMEOUT,
        retry_policy=DB_RETRY,
    )


async def _sleep_through(run: RequestRun, freeze: Freeze) -> bool:
    """Wait until the window's end (FREEZE_RECHECK at most) or a window ended early: False; an
    operator's `let_through`: True (logged); `cancel` raises the request's Outcome."""
    while True:
        left = max(min(freeze.ends_at - workflow.now(), FREEZE_RECHECK), _SHORTEST_WAIT)
        try:
            await workflow.wait_condition(lambda: bool(run.queue) or run.freezes_changed, timeout=left)
        except TimeoutError:
            return False
        if not run.queue:
            return False  # a window ended early: ask again
        if (taken := await take_legal(run)) is None:
            continue
        ticket, action = taken
        if action.action != A.LET_THROUGH:
            end_by(action, ticket)
        await log(
            run, f"let through the freeze by {action.actor}{note(action)}", step="freeze", actor=action.actor
        )
        run.done_tickets.add(ticket)
        return True
