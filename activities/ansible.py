"""The Ansible step: each apply activity hands its DnsChange (or a forward change and its PTRs) to
the worker's ZoneBatcher, which applies the changes ready within a short window with ONE playbook
run (activities/batching.py, activities/playbook_runner.py); the activity then confirms that DNS
serves its own change."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import metrics
from activities.batching import ChangeOutcome, ZoneBatcher
from activities.dns_check import NotServed, wait_until_served
from activities.heartbeats import heartbeating
from activities.name_claims import NameClaims, NameOwned, RequestEnded, log_waiting_for, refused_error
from activities.playbook_runner import PlaybookRunner
from activities.playbook_runs import (
    REJECTED,
    failure_error,
)
from dnsorch.contracts import (
    DNS_CHANGE_CONFLICT,
    DNS_CHANGE_NOT_SERVED,
    ApplyResult,
    ChangeSet,
    ChangeSetResult,
    DnsChange,
    PtrApplied,
)
from dnsorch.settings import Settings

NOT_SERVED = DNS_CHANGE_NOT_SERVED
CONFLICT = DNS_CHANGE_CONFLICT


class AnsibleActivities:
    """Built once per worker with the settings; one instance serves every concurrent run."""

    def __init__(
        self, settings: Settings, *, claims: NameClaims | None = None, keep_run_dirs: bool = False
    ) -> None:
        """`claims` orders the changes to one name (the worker always passes it); `keep_run_dirs`
        is for debugging and for the test that audits a run's files."""
        self._settings = settings
        self._claims = claims
        self._runner = PlaybookRunner(settings, keep_run_dirs=keep_run_dirs)
        self._run_batch = self._runner.run_batch  # one playbook run per batch
        self._warm = self._runner.warm
        self._heartbeat_every = max(1.0, min(5.0, settings.ansible_heartbeat_seconds / 3))
        self._batcher = ZoneBatcher(
            self._run_batch,
            max_changes=settings.batch_max_changes if settings.batch_enabled else 1,
            max_wait=settings.batch_max_wait_ms / 1000 if settings.batch_enabled else 0.0,
            max_running=settings.worker_playbook_threads,
            overlap_after=settings.worker_playbook_overlap_after_ms / 1000,
        )

    @activity.defn(name="apply_dns_change")
    async def apply_dns_change(self, change: DnsChange) -> ApplyResult:
        """Apply `change` with the playbook, then wait until the primary serves the result."""
        error: BaseException | None = None
        try:
            return await self._apply(change)
        except BaseException as raised:
            error = raised
            raise
        finally:
            metrics.count_attempt(metrics.attempt_outcome(error))

    async def _apply(self, change: DnsChange) -> ApplyResult:
        attempt = activity.info().attempt
        log = activity.logger
        self._check_config()
        if self._claims is not None:
            try:
                await heartbeating(
                    self._heartbeat_every, self._claims.wait_for_turn(change, on_wait=log_waiting_for)
                )
            except (NameOwned, RequestEnded) as refused:
                raise refused_error(refused) from None
        log.info(
            "request %s attempt %d: %s %s %s joins the %s batch",
            change.request_id,
            attempt,
            change.operation,
            change.record_type,
            change.domain,
            change.zone,
        )
        # Not interrupted on cancel once its batch runs (other requests' changes ride on it): the
        # cancellation takes effect when the batch is done (see ZoneBatcher.submit).
        outcome = await heartbeating(self._heartbeat_every, self._batcher.submit(change))
        if outcome.status != "applied":
            raise self._failure(change, outcome)
        served = await heartbeating(self._heartbeat_every, self._verify(change))
        return ApplyResult(served=served, changed=True, served_at=datetime.now(UTC))

    @activity.defn(name="apply_dns_changes")
    async def apply_dns_changes(self, changes: ChangeSet) -> ChangeSetResult:
        """Apply a request's change and its PTR changes in the same batch (one UPDATE per zone in
        one playbook run). The request's change fails the activity as `apply_dns_change` does; each
        PTR's outcome is reported beside its result."""
        error: BaseException | None = None
        try:
            return await self._apply_set(changes)
        except BaseException as raised:
            error = raised
            raise
        finally:
            metrics.count_attempt(metrics.attempt_outcome(error))

    async def _apply_set(self, changes: ChangeSet) -> ChangeSetResult:
        change = changes.change
        self._check_config()
        if self._claims is not None:  # the workflow took these turns: one transaction renews them
            ptr_claims = [dataclasses.replace(p, request_id=change.request_id) for p in changes.ptrs]
            try:
                await heartbeating(
                    self._heartbeat_every,
                    self._claims.wait_for_turns([change, *ptr_claims], on_wait=log_waiting_for),
                )
            except (NameOwned, RequestEnded) as refused:
                raise refused_error(refused) from None
        activity.logger.info(
            "request %s attempt %d: %s %s %s and %d PTR change(s) join a batch",
            change.request_id,
            activity.info().attempt,
            change.operation,
            change.record_type,
            change.domain,
            len(changes.ptrs),
        )
        outcomes = await heartbeating(self._heartbeat_every, self._submit_together(changes))
        forward, ptrs = outcomes[0], outcomes[1:]
        if forward.status != "applied":
            error = self._failure(change, forward)
            await heartbeating(self._heartbeat_every, self._undo_ptrs(changes, ptrs))
            raise error
        served = await heartbeating(self._heartbeat_every, self._verify(change))
        result = ApplyResult(served=served, changed=True, served_at=datetime.now(UTC))
        kept = [await self._ptr_applied(p, o) for p, o in zip(changes.ptrs, ptrs, strict=True)]
        return ChangeSetResult(result, kept)

    async def _submit_together(self, changes: ChangeSet) -> list[ChangeOutcome]:
        """Queue every change at once (so they share a batch) and wait for all; cancelled, wait for
        the run to end, and return the outcomes anyway if the request's own change was applied."""
        tasks = [asyncio.ensure_future(self._batcher.submit(c)) for c in [changes.change, *changes.ptrs]]
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            if tasks[0].cancelled() or tasks[0].exception() is not None:
                raise
        return [
            ChangeOutcome("failed", "cancelled") if t.cancelled() or t.exception() else t.result()
            for t in tasks
        ]

    async def _undo_ptrs(self, changes: ChangeSet, outcomes: list[ChangeOutcome]) -> None:
        """The request's own change failed: restore the PTRs applied beside it (one more run), so
        reverse DNS does not name a record that the request did not make."""
        applied = {p.domain for p, o in zip(changes.ptrs, outcomes, strict=True) if o.status == "applied"}
        restores = [
            dataclasses.replace(u, request_id=str(uuid.uuid4())) for u in changes.undo if u.domain in applied
        ]
        if not restores:
            return
        undone = await self._submit_together(ChangeSet(restores[0], restores[1:]))
        for restore, outcome in zip(restores, undone, strict=True):
            activity.logger.warning(
                "request %s: PTR %s restored after its forward change failed: %s",
                changes.change.request_id,
                restore.domain,
                outcome.status,
            )

    async def _ptr_applied(self, change: DnsChange, outcome: ChangeOutcome) -> PtrApplied:
        if outcome.status != "applied":
            return PtrApplied(change.domain, outcome.status, self._runner.redact(outcome.message))
        try:
            await self._verify(change)
        except ApplicationError as error:
            return PtrApplied(change.domain, "failed", error.message)
        return PtrApplied(change.domain, "applied", served_at=datetime.now(UTC))

    def _failure(self, change: DnsChange, outcome: ChangeOutcome) -> ApplicationError:
        if outcome.status in ("refused", "conflict"):
            kind = CONFLICT if outcome.status == "conflict" else REJECTED
            error = ApplicationError(outcome.message, type=kind, non_retryable=True)
        else:
            error = failure_error(self._runner.redact(outcome.message))
        activity.logger.warning(
            "request %s attempt %d: %s: %s",
            change.request_id,
            activity.info().attempt,
            error.type,
            error.message,
        )
        return error

    def _check_config(self) -> None:
        """Fail fast, and for good, when the operator's playbook or key cannot be read."""
        playbook, key = self._settings.playbook_path, self._settings.tsig_key_path
        if not playbook.is_file():
            raise ApplicationError(f"playbook {playbook} not found", type=REJECTED, non_retryable=True)
        if not key.is_file() or not os.access(key, os.R_OK):
            raise ApplicationError(
                f"TSIG key file {key} is missing or unreadable", type=REJECTED, non_retryable=True
            )

    async def _verify(self, change: DnsChange) -> list[str]:
        """The primary must serve exactly the new values (nothing, for a delete)."""
        expected = [] if change.operation == "delete" else list(change.values)
        try:
            return await wait_until_served(
                self._settings.dns_server,
                self._settings.dns_port,
                change.domain,
                change.record_type,
                expected,
                origin=change.zone + ".",
                timeout=self._settings.dns_verify_timeout_seconds,
            )
        except NotServed as exc:
            raise ApplicationError(f"change applied but not served: {exc}", type=NOT_SERVED) from None

    def sweep_orphaned_run_dirs(self) -> int:
        """Remove run dirs left by a worker that died mid-run (call it at start-up)."""
        return self._runner.sweep_orphaned_run_dirs()

    def close(self) -> None:
        """Stop the warm playbook server, if one runs (it also stops when the worker exits)."""
        self._runner.close()
