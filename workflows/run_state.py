"""RequestRun: everything DnsProvisioningWorkflow knows about its request while it runs, in one place.

The workflow holds one; the modules beside it (turn, plan, apply, approval, freeze, schedule, live
DNS, cancel check) take it as their first argument and change it there. Deterministic: no I/O.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import (
        ApplyResult,
        BeginAnswer,
        ChangePlan,
        ChangeSetResult,
        DnsChange,
        DnsRequestSpec,
        KeptPtr,
        LogStep,
        NameServer,
        OperatorAction,
        ProvisioningInput,
        PtrApplied,
        RequestStatus,
        Reschedule,
        WorkflowState,
    )
    from dnsorch.dns import change_for
    from workflows.story import Story
    from workflows.ttl_dance_state import TtlDance


@dataclass
class PtrChange:
    """One PTR change the request makes in its own apply (workflows/ptrs.py)."""

    spec: DnsRequestSpec
    """As a PTR request of its own: its row, once served everywhere."""
    change: DnsChange
    refused: str = ""
    """Why its plan keeps it out of the apply, if it does."""


@dataclass
class RequestRun:
    """The request, what the `state` query answers, the operators' queue, and the patches in force."""

    state: WorkflowState = field(
        default_factory=lambda: WorkflowState(request_id="", status=RequestStatus.PENDING, step="accepted")
    )
    params: ProvisioningInput | None = None
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Database writes go one at a time, in order."""

    # The operators' actions, queued by the handlers and carried out by the flow (ticket, action).
    queue: list[tuple[int, OperatorAction]] = field(default_factory=list)
    next_ticket: int = 0
    done_tickets: set[int] = field(default_factory=set)
    refusals: dict[int, str] = field(default_factory=dict)
    """Why a queued action was refused once carried out (resolve_check.py): its update fails with it."""
    row_ready: bool = False
    """The request's row exists: signals wait for it before they write."""
    moved: list[Reschedule] = field(default_factory=list)
    """Reschedules not yet taken by the scheduled wait."""
    freezes_changed: bool = False
    """A freeze window ended early since the zone was last asked."""

    # Which rules this run follows (each a patch, decided once at the start of `run`).
    lean: bool = False
    plan_first: bool = False
    everywhere: bool = False
    turn_first: bool = False
    wait_for_apply_to_stop: bool = False
    ptrs_in_apply: bool = False
    """The PTR changes ride in the request's own apply (workflows/ptrs.py), not in child requests."""
    fewer_round_trips: bool = False
    """A zone's first check looks up its servers too, and verify lines wait for the next write."""
    deferred: list[LogStep] = field(default_factory=list)
    """Log lines kept back for the next write (bookkeeping.log's `defer`), oldest first."""
    fewer_steps: bool = False
    """The first write asks the freeze too, turns and plans share a local activity, and the plan
    lines wait for the next write (patch fewer-steps-to-apply)."""
    freeze_with_begin: bool = False
    """The first write asks whether the zone is frozen (the request goes straight to its plan)."""
    begun: BeginAnswer | None = None
    """That answer, until the freeze check takes it."""

    # What happened so far.
    not_before: datetime | None = None
    approved: bool = False
    apply_handle: asyncio.Task[ApplyResult | ChangeSetResult] | None = None
    dance_step_applying: bool = False
    """The apply in flight is a TTL dance's step (lowering or restoring the TTL), not the change: one
    that completes despite a cancel does not make the change "already applied"."""
    lock_granted: bool = False
    served_at: datetime | None = None
    servers: list[NameServer] | None = None
    """The zone's authoritative servers, looked up once per request."""
    snapshot: ChangePlan | None = None
    """What a rollback restores: what the plan saw before the change."""
    due_plan: ChangePlan | None = None
    """A scheduled request's plan at its time, which its approvers judged (schedule.py); a plan that
    differs under the name's turn asks them again (plan.py)."""
    story: Story = field(default_factory=Story)
    ptr_attempt: int = 0
    ptrs_waiting: set[str] = field(default_factory=set)
    told_parent: bool = False
    dance: TtlDance | None = None
    """The TTL dance around the apply, when the request's first plan calls for one (ttl_dance.py)."""
    ptr_changes: list[PtrChange] = field(default_factory=list)
    """The latest attempt's PTR changes (ptrs_in_apply)."""
    ptr_restores: dict[str, DnsChange] = field(default_factory=dict)
    """By PTR name, the change that restores what its first plan saw: what a rollback applies."""
    ptr_outcomes: list[PtrApplied] = field(default_factory=list)
    """What the latest apply did to each PTR change."""
    ptr_kept: dict[str, KeptPtr] = field(default_factory=dict)
    """The PTRs served everywhere, by name: stored with the request's record when it completes."""
    zone_servers: dict[str, list[NameServer]] = field(default_factory=dict)
    """The authoritative servers of the reverse zones, looked up once per request."""

    @property
    def request(self) -> DnsRequestSpec:
        assert self.params is not None, "the run has begun"
        return self.params.request

    def change(self) -> DnsChange:
        """The request's own change (a rollback's restore is another)."""
        return change_for(self.request)
