"""DnsProvisioningWorkflow: one durable workflow per DNS request, steerable by operators.

Life of a request: (PENDING_APPROVAL →) IN_PROGRESS → COMPLETED once every authoritative server
serves the change, or → NEEDS_ATTENTION when the Ansible step has exhausted its retries or a server
does not serve the change in time, where it waits durably for an operator's `retry`, `rollback`,
`resolve`, `fail` or `cancel` (FAILED when nobody acts before the deadline). A rollback restores
what the plan saw before the change: ROLLED_BACK.

Deterministic code only: time comes from `workflow.now()`, ids from `workflow.uuid4()`, and all
I/O happens in activities. The log-line ids the workflow makes keep the database writes
idempotent across retries. Operator actions are queued by handlers and carried out here, in
the main coroutine, so transitions happen one at a time and in order.

The class holds the handlers and `run`; the request's state is one RequestRun (run_state.py), and
each step is a module beside this one that takes it: begin.py, schedule.py, approval_wait.py,
freeze.py, attempts.py (turn.py, plan.py, apply.py, verify.py, live_dns.py), cancel_check.py, operators.py.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import (
        OperatorAction,
        ProvisioningInput,
        RequestStatus,
        Reschedule,
        StatusChange,
        WorkflowState,
    )
    from workflows import operators, schedule
    from workflows.approval_wait import approval
    from workflows.attempts import cancelled_in_temporal, end, finish, provision
    from workflows.begin import begin
    from workflows.bookkeeping import transition
    from workflows.cancel_check import settler
    from workflows.freeze import wait_out_freeze
    from workflows.live_dns import PTR_WAITS_SIGNAL, ptr_waits
    from workflows.outcome import Outcome
    from workflows.patches import (
        DANGLING_TARGETS,
        DISTINCT_APPROVERS,
        SERVED_STANDS_AT_TURN,
        TURN_BEFORE_PLAN,
    )
    from workflows.run_state import RequestRun

# The core patch ids live in patches.py; tests and docs name these four here too.
__all__ = [
    "DANGLING_TARGETS",
    "DISTINCT_APPROVERS",
    "SERVED_STANDS_AT_TURN",
    "TURN_BEFORE_PLAN",
    "DnsProvisioningWorkflow",
]

S = RequestStatus


@workflow.defn
class DnsProvisioningWorkflow:
    def __init__(self) -> None:
        self._run = RequestRun()

    @workflow.run
    async def run(self, params: ProvisioningInput) -> WorkflowState:
        """A request's life, one call a step:

        1. `begin`: the patches in force, the row and the first status.
        2. `wait_for_time`: a scheduled request sleeps until its time.
        3. `approval`: a held request waits for enough approvals.
        4. `wait_out_freeze`: a request in a frozen zone waits in FROZEN.
        5. `provision`: attempts (turn, plan, apply, verify, PTRs) until the request ends.
        6. `end`: the final status, with the record DNS serves (a cancel in Temporal first asks DNS:
           `cancelled_in_temporal`).
        7. `finish`: answer late actions, wait for the handlers, return the state.
        """
        run, settle = self._run, settler(self._run)
        await begin(run, params)
        held = bool(params.attention_reason) and run.lean  # drift: it waits for an operator's retry
        try:
            await schedule.wait_for_time(run)
            await approval(run)
            await wait_out_freeze(run, held=held)
            await provision(run, settle, held=held)
        except Outcome as outcome:
            await end(run, outcome)
        except asyncio.CancelledError:
            if (ending := await cancelled_in_temporal(run, settle)) is None:
                await transition(run, S.CANCELLED, "workflow cancelled in Temporal", step="finished")
                raise
            await end(run, ending)
        return await finish(run)

    # ---- handlers: each queues or records, the flow above acts (operators.py) ------------

    @workflow.signal
    async def action(self, action: OperatorAction) -> None:
        """Signal from the Temporal UI/CLI; an action illegal in the current state is logged and dropped."""
        await operators.on_action(self._run, action)

    @workflow.update
    async def act(self, action: OperatorAction) -> str:
        """API v2's actions: refused synchronously when illegal; answers the resulting status."""
        return await operators.carried_out(self._run, action)

    @act.validator
    def _validate_act(self, action: OperatorAction) -> None:
        operators.check(self._run, action.action)

    @workflow.update
    async def set_status(self, change: StatusChange) -> str:
        """API v2's manual status: a status change is the action it means (FAILED → fail, …)."""
        action = operators.status_action(self._run, change)
        return await operators.carried_out(
            self._run, OperatorAction(action.value, change.actor, change.message)
        )

    @set_status.validator
    def _validate_set_status(self, change: StatusChange) -> None:
        operators.status_action(self._run, change)

    @workflow.signal
    async def update_status(self, change: StatusChange) -> None:
        """API v1's manual status (signal): an action where one fits, else a recorded status change."""
        await operators.on_update_status(self._run, change)

    @workflow.query
    def state(self) -> WorkflowState:
        """The request's state: status, timeline, plan, approvals and the actions legal now."""
        return operators.current_state(self._run)

    @workflow.signal
    def name_lock_granted(self, lock_id: str) -> None:
        self._run.lock_granted = True

    @workflow.signal(name=PTR_WAITS_SIGNAL)
    def _ptr_waits(self, request_id: str) -> None:
        """From a PTR request this one started: it waits for an operator, as a request of its own."""
        ptr_waits(self._run, request_id)

    @workflow.update
    async def reschedule(self, moved: Reschedule) -> str:
        """Move a scheduled request's time; answers its status (still SCHEDULED)."""
        return await schedule.reschedule(self._run, moved)

    @reschedule.validator
    def _reschedule_allowed(self, moved: Reschedule) -> None:
        schedule.check_reschedule(self._run, moved)

    @workflow.signal
    def freezes_changed(self) -> None:
        """A freeze window was ended early: a FROZEN request asks again whether its zone is frozen."""
        self._run.freezes_changed = True
