"""One true story per request, for DnsProvisioningWorkflow: what DNS serves because of the request
(its change, or a rollback's restore), so that an ending someone asks for (cancel, fail, resolve, the
attention deadline, a cancel in Temporal) never gives a final status DNS contradicts, and dnsorch's
record says what DNS serves. Deterministic and free of I/O: the workflow tells it what happened."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import Action, ChangePlan, RequestStatus
    from dnsorch.requests.transitions import IllegalTransition
    from workflows.outcome import Outcome
    from workflows.patches import patched

S, A = RequestStatus, Action

# A rollback never records the new value: once its restore batch has run (even under a cancel), an
# ending someone asks for ends the request ROLLED_BACK, with no record, saying DNS serves the snapshot.
ROLLBACK_STANDS = "rollback-stands"
# Once the change is served by every authoritative server, cancel and fail are too late: an operator's
# is refused with the reason (rollback undoes it, resolve keeps it); one that cannot be refused (a
# cancel in Temporal, the attention deadline) ends COMPLETED with the record, naming the PTRs' state.
SERVED_IS_TOO_LATE = "served-is-too-late"
# What a rollback restores and the addresses whose PTRs go are what the first plan saw, before any
# apply: a retry's plan is logged on the timeline but replaces neither.
SNAPSHOT_FROM_FIRST_PLAN = "snapshot-from-first-plan"


class TooLate(IllegalTransition):
    """An operator's cancel or fail after the change is served everywhere."""


@dataclass
class Story:
    """What the request has done to DNS so far; the patches say which rules this workflow follows."""

    rollback_stands: bool = False
    served_is_too_late: bool = False
    first_plan_fixes_snapshot: bool = False
    undoing: bool = False
    """The apply running, or the last one, is a rollback's restore."""
    restored: bool = False
    """A rollback's restore took effect: DNS serves the snapshot (at least the primary does)."""
    rollback_lag: str = ""
    """Why that restore is not known to be served everywhere, if it is not."""
    everywhere: bool = False
    """The request's change is served by every authoritative server."""
    ptrs: dict[str, str] = field(default_factory=dict)
    """Each PTR request of the latest attempt and what became of it."""
    ptrs_alone: bool = False
    """The PTR requests outlive this one (live_dns.PTR_WAITS_ALONE): a cancel does not reach them."""

    @classmethod
    def begin(cls, live: bool) -> Story:
        """At the start of `run`; `live`: the workflow verifies everywhere and can roll back."""
        if not live:
            return cls()
        return cls(
            rollback_stands=patched(ROLLBACK_STANDS),
            served_is_too_late=patched(SERVED_IS_TOO_LATE),
            first_plan_fixes_snapshot=patched(SNAPSHOT_FROM_FIRST_PLAN),
        )

    # ---- what happened ------------------------------------------------------------------------

    def applied(self) -> None:
        """The last apply took effect (it returned, or finished although cancelled). Idempotent."""
        if self.undoing:
            self.restored, self.everywhere = True, False
        else:
            self.restored, self.rollback_lag = False, ""

    def may_snapshot(self, attempts: int) -> bool:
        """Only a plan made before any apply of this request sees what DNS served before it."""
        return not self.first_plan_fixes_snapshot or attempts == 0

    def old_values(self, snapshot: ChangePlan | None, latest: list[str]) -> list[str]:
        """The addresses the change removes, whose PTRs go."""
        if self.first_plan_fixes_snapshot and snapshot is not None:
            return list(snapshot.old_values)
        return latest

    # ---- what may end the request, and how ----------------------------------------------------

    def refusal(self, action: Action, status: str) -> TooLate | None:
        if not (self.served_is_too_late and self.everywhere) or action not in (A.CANCEL, A.FAIL):
            return None
        then = (
            "`rollback` undoes it, `resolve` keeps it"
            if status == S.NEEDS_ATTENTION
            else "`resolve` keeps it; once it needs attention, `rollback` undoes it"
        )
        return TooLate(
            f"too late to {action.value}: the change is already served by every authoritative server; {then}"
        )

    def cancelled_in_temporal(self, served: str | None) -> Outcome | None:
        """A cancel in Temporal cannot be refused: the ending when DNS serves a change of the request
        (`served`: what the last apply left served, when it took effect), else None (CANCELLED)."""
        asked = "cancel in Temporal"
        if (self.rollback_stands and self.restored) or (self.served_is_too_late and self.everywhere):
            return Outcome(S.CANCELLED, "workflow cancelled in Temporal", asked=asked)  # `settle` decides
        if served is None:
            return None
        late = f"{asked} came too late: the change was already applied; {served}"
        return Outcome(S.COMPLETED, late, store_record=True, asked=asked)

    def settle(self, outcome: Outcome, snapshot: ChangePlan | None, values: list[str]) -> Outcome:
        """The ending that tells what DNS serves: an asked-for ending meets what has been applied."""
        if not outcome.asked:
            return outcome  # the flow's own ending: it knows what DNS serves
        if self.rollback_stands and self.restored and outcome.status != S.ROLLED_BACK:
            before = ", ".join(snapshot.old_values) if snapshot is not None else "(unknown)"
            lag = f" (not yet everywhere: {self.rollback_lag})" if self.rollback_lag else ""
            message = (
                f"{outcome.asked} after the rollback was applied: the rollback stands; "
                f"DNS serves what it served before: {before or 'nothing'}{lag}"
            )
            return Outcome(S.ROLLED_BACK, message, outcome.actor, outcome.ticket)
        if self.served_is_too_late and self.everywhere and outcome.status in (S.CANCELLED, S.FAILED):
            message = (
                f"{outcome.asked} came too late: the change is served by every authoritative server "
                f"({', '.join(values) or 'deleted'}) and stays; {self.ptr_note()}"
            )
            return Outcome(S.COMPLETED, message, outcome.actor, outcome.ticket, store_record=True)
        return outcome

    def ptr_note(self) -> str:
        if not self.ptrs:
            return "no PTR request ran"
        running = (
            "still running, as a request of its own"
            if self.ptrs_alone
            else "still running, asked to cancel with this request"
        )
        return "; ".join(
            f"{what}: {running if state == 'running' else state}" for what, state in self.ptrs.items()
        )

    def ptrs_left_waiting(self) -> str:
        """The PTR requests that wait for an operator on their own, for the COMPLETED message."""
        return "; ".join(f"{what} {state}" for what, state in self.ptrs.items() if state.startswith("waits"))
