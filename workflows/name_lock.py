"""DnsNameLockWorkflow: one per DNS name; lets one request at a time change that name, in arrival order.

A request's workflow asks for the lock (signal-with-start through an activity), waits for the
`name_lock_granted` signal, applies its change and signals `release`. A holder that never
releases (e.g. terminated by hand) loses the lock after LEASE. The lock ends itself when idle and
continues as new after many grants, so its history stays small.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import LockState

LEASE = timedelta(hours=1)
IDLE = timedelta(minutes=5)
GRANTS_PER_RUN = 200


def lock_id_for(domain: str) -> str:
    return f"dns-name-lock-{domain}"


@workflow.defn
class DnsNameLockWorkflow:
    def __init__(self) -> None:
        self._waiting: list[str] = []
        self._released: set[str] = set()

    @workflow.run
    async def run(self, state: LockState) -> None:
        self._waiting = [h for h in state.waiting if h not in self._waiting] + self._waiting
        for _ in range(GRANTS_PER_RUN):
            try:
                await workflow.wait_condition(lambda: bool(self._waiting), timeout=IDLE)
            except TimeoutError:
                return  # idle: the next request starts a new run
            holder = self._waiting.pop(0)
            if not await self._grant(holder):
                continue
            try:
                await workflow.wait_condition(lambda h=holder: h in self._released, timeout=LEASE)  # type: ignore[misc]
            except TimeoutError:
                workflow.logger.warning("lease of %s expired; the next request goes ahead", holder)
            self._released.discard(holder)
        workflow.continue_as_new(LockState(waiting=self._waiting))

    async def _grant(self, holder: str) -> bool:
        try:
            await workflow.get_external_workflow_handle(holder).signal(
                "name_lock_granted", workflow.info().workflow_id
            )
            return True
        except ApplicationError:
            workflow.logger.warning("%s is gone; skipping it", holder)
            return False

    @workflow.signal
    def acquire(self, holder: str) -> None:
        if holder not in self._waiting:
            self._waiting.append(holder)

    @workflow.signal
    def release(self, holder: str) -> None:
        """From the holder when done, or from a waiter that gave up (cancelled) before its turn."""
        if holder in self._waiting:
            self._waiting.remove(holder)
        else:
            self._released.add(holder)

    @workflow.query
    def waiting(self) -> list[str]:
        return list(self._waiting)
