"""An operator's `resolve`, for DnsProvisioningWorkflow: it ends the request COMPLETED and records its
change in dns_records ("DNS was fixed outside dnsorch"), so it first asks the primary whether DNS
serves the change. Served: it goes on as asked. Not served, or the primary does not answer: the
resolve is refused with the reason (an update fails with it, a signal's is logged), and the request
waits in NEEDS_ATTENTION; an operator fixes DNS and resolves again, or retries, rolls back, fails or
cancels. Deterministic code only: the primary is asked in a local activity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import Action, ChangePlan, DnsChange, OperatorAction
    from workflows.outcome import note
    from workflows.patches import patched
    from workflows.policy import failure_reason
    from workflows.primary import ask_primary
    from workflows.run_state import RequestRun

# A resolve asks the primary first, and is refused while DNS does not serve the change.
RESOLVE_ASKS_DNS = "resolve-asks-dns"

Unsettle = Callable[[RequestRun, int, str, OperatorAction], Awaitable[None]]
"""Refuses the action: the request waits in NEEDS_ATTENTION with the reason (raises Unsettled)."""


async def check_resolve(run: RequestRun, action: OperatorAction, ticket: int, refuse: Unsettle) -> None:
    """Returns when the resolve may end the request COMPLETED with its record; else refuses it."""
    if action.action != Action.RESOLVE or not run.everywhere:
        return
    story = run.story
    if story.everywhere or (story.rollback_stands and story.restored):
        return  # every server serves the change, or a rollback stands and its story decides
    if not patched(RESOLVE_ASKS_DNS):
        return
    change = run.change()
    try:
        served = await ask_primary(change)
    except ActivityError as error:  # it never fails, but a hung server can outlast its timeout
        served = ChangePlan("unknown", note=failure_reason(error))
    if serves(served, change):
        return
    asked = f"resolve by {action.actor}{note(action)} refused"
    if served.action == "unknown":
        why = f"{asked}: whether the primary serves the change is unknown ({served.note})"
    else:
        why = (
            f"{asked}: the primary does not serve the change ({wanted(change)}); it serves "
            f"{_values(served.old_values, served.old_ttl)}. Fix DNS and resolve again, or retry, "
            "roll back, fail or cancel"
        )
    run.refusals[ticket] = why
    await refuse(run, ticket, why, action)


def serves(plan: ChangePlan, change: DnsChange) -> bool:
    """The plan of the request's own change says the primary already serves it."""
    return plan.action == "unchanged" or (change.operation == "delete" and plan.action == "none")


def wanted(change: DnsChange) -> str:
    if change.operation == "delete":
        return f"{change.record_type} {change.domain} deleted"
    return f"{change.record_type} {change.domain} → {_values(change.values, change.ttl)}"


def _values(values: list[str], ttl: int | None) -> str:
    if not values:
        return "nothing"
    return ", ".join(values) + (f" at TTL {ttl}" if ttl else "")
