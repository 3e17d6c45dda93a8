"""The Ansible step: each apply activity hands its DnsChange to the worker's ZoneBatcher, which
applies the changes of one zone ready within a short window with ONE playbook run
(activities/batching.py); the activity then confirms that DNS serves its own change.

Everything a run writes lives in a private per-run directory that is removed afterwards;
request strings reach Ansible only as a JSON file and the TSIG secret only as a key-file
path, so neither templating nor artifacts can leak or execute them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import ansible_runner
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import metrics
from activities.batching import Batch, ChangeOutcome, ZoneBatcher
from activities.dns_check import NotServed, wait_until_served
from activities.heartbeats import heartbeating
from activities.name_claims import NameClaims, NameOwned, RequestEnded, log_waiting_for, refused_error
from activities.playbook_runs import (
    REJECTED,
    PlaybookOutcome,
    classify_failure,
    failure_error,
    failure_message,
    kill_leftovers,
    process_alive,
)
from activities.pools import ThreadPool
from activities.warm_playbook import WarmPlaybook
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
_SECRET = re.compile(r'secret\s+"([^"]+)"')
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class AnsibleActivities:
    """Built once per worker with the settings; one instance serves every concurrent run."""

    def __init__(
        self, settings: Settings, *, claims: NameClaims | None = None, keep_run_dirs: bool = False
    ) -> None:
        """`claims` orders the changes to one name (the worker always passes it); `keep_run_dirs`
        is for debugging and for the test that audits a run's files."""
        self._settings = settings
        self._claims = claims
        self._pool = ThreadPool("ansible", settings.worker_playbook_threads)
        self._keep_run_dirs = keep_run_dirs
        self._runs_dir = settings.state_dir / "ansible-runs"
        self._bin_dir = str(Path(sys.executable).parent)  # not resolved: the venv's bin
        self._warm = WarmPlaybook() if settings.worker_playbook_warm else None
        self._heartbeat_every = max(1.0, min(5.0, settings.ansible_heartbeat_seconds / 3))
        self._batcher = ZoneBatcher(
            self._run_batch,
            max_changes=settings.batch_max_changes if settings.batch_enabled else 1,
            max_wait=settings.batch_max_wait_ms / 1000 if settings.batch_enabled else 0.0,
            max_running=settings.worker_playbook_threads,
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
        if self._claims is not None:  # the workflow took these turns: one query each
            ptr_claims = [dataclasses.replace(p, request_id=change.request_id) for p in changes.ptrs]
            try:
                for claim in [change, *ptr_claims]:
                    await heartbeating(
                        self._heartbeat_every, self._claims.wait_for_turn(claim, on_wait=log_waiting_for)
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
            return PtrApplied(change.domain, outcome.status, self._redact(outcome.message))
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
            error = failure_error(self._redact(outcome.message))
        activity.logger.warning(
            "request %s attempt %d: %s: %s",
            change.request_id,
            activity.info().attempt,
            error.type,
            error.message,
        )
        return error

    async def _run_batch(self, batch: Batch) -> dict[str, ChangeOutcome]:
        """One playbook run for `batch`; the outcome of each change, by request id."""
        run_dir = self._make_run_dir(batch)
        try:
            outcome = await self._pool.run(self._run_playbook, run_dir, batch.cancel)
            reported = _read_results(run_dir / "results.json")
        finally:
            if not self._keep_run_dirs:
                shutil.rmtree(run_dir, ignore_errors=True)
        permanent = classify_failure(outcome.failure) == REJECTED
        metrics.observe_batch(batch.reason, len(batch.changes), outcome.seconds, reported)
        types = {change.record_type for change in batch.changes}
        record_type = types.pop() if len(types) == 1 else "mixed"
        metrics.observe_playbook(
            metrics.playbook_outcome(outcome.status, permanent), record_type, outcome.seconds
        )
        activity.logger.info(
            "batch of %d change(s) for zone %s (%s): playbook %s in %.1fs, %d applied, %d refused",
            len(batch.changes),
            batch.zone,
            batch.reason,
            outcome.status,
            outcome.seconds,
            sum(1 for o in reported.values() if o.status == "applied"),
            sum(1 for o in reported.values() if o.status == "refused"),
        )
        missing = "the playbook reported no outcome for this change"
        if outcome.status != "successful":
            missing = outcome.failure
        return {
            change.request_id: reported.get(change.request_id) or ChangeOutcome("failed", missing)
            for change in batch.changes
        }

    def sweep_orphaned_run_dirs(self) -> int:
        """Remove run dirs left by a worker that died mid-run (SIGKILL skips `finally`).

        Call it at start-up. Each dir is named after its worker's pid, so the runs of another
        live worker on this machine are never touched.
        """
        removed = 0
        for run_dir in self._runs_dir.glob("w*-*") if self._runs_dir.is_dir() else []:
            pid = run_dir.name[1:].split("-", 1)[0]
            # Our own pid means a previous incarnation (a container restarts with the same pid):
            # this runs at start-up, before this process has any runs of its own.
            if pid.isdigit() and int(pid) != os.getpid() and process_alive(int(pid)):
                continue
            shutil.rmtree(run_dir, ignore_errors=True)
            removed += 1
        return removed

    def close(self) -> None:
        """Stop the warm playbook server, if one runs (it also stops when the worker exits)."""
        if self._warm is not None:
            self._warm.close()

    def _check_config(self) -> None:
        """Fail fast, and for good, when the operator's playbook or key cannot be read."""
        playbook, key = self._settings.playbook_path, self._settings.tsig_key_path
        if not playbook.is_file():
            raise ApplicationError(f"playbook {playbook} not found", type=REJECTED, non_retryable=True)
        if not key.is_file() or not os.access(key, os.R_OK):
            raise ApplicationError(
                f"TSIG key file {key} is missing or unreadable", type=REJECTED, non_retryable=True
            )

    def _make_run_dir(self, batch: Batch) -> Path:
        """A fresh 0700 directory holding only the payload; ansible-runner adds the rest."""
        self._runs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._runs_dir.chmod(0o700)
        prefix = f"w{os.getpid()}-{_SAFE.sub('_', batch.zone)[:64]}-n{len(batch.changes)}-"
        run_dir = Path(tempfile.mkdtemp(prefix=prefix, dir=self._runs_dir))  # mode 0700
        fd = os.open(run_dir / "payload.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"changes": [dataclasses.asdict(change) for change in batch.changes]}, handle)
        return run_dir

    def _run_playbook(self, run_dir: Path, cancel: threading.Event) -> PlaybookOutcome:
        """Blocking: one ansible-playbook run; once `cancel` is set, its processes are killed."""
        settings = self._settings
        tmp = run_dir / "tmp"
        envvars = {
            "PATH": self._bin_dir + os.pathsep + os.environ.get("PATH", os.defpath),
            "ANSIBLE_PIPELINING": "1",  # else modules (with their arguments) go to a temp file
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_LOCAL_TEMP": str(tmp / "local"),
            "ANSIBLE_REMOTE_TEMP": str(tmp / "remote"),
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        }
        extravars = {  # paths and the server only: extra-vars are Jinja-templated
            "dns_server": settings.dns_server,
            "dns_port": settings.dns_port,
            "tsig_key_file": str(settings.tsig_key_path.resolve()),
            "payload_file": str(run_dir / "payload.json"),
            "results_file": str(run_dir / "results.json"),
            "batch_max_changes": settings.batch_max_message_changes,
            "batch_max_bytes": settings.batch_max_message_bytes,
        }
        playbook = str(settings.playbook_path.resolve())
        warm_args: dict[str, str] = {}
        warm = self._warm.prepare() if self._warm is not None else None
        if warm is not None:  # the launcher stands in for ansible-playbook; the playbook goes first
            envvars.update(warm.env)
            warm_args = {"binary": str(warm.launcher), "cmdline": shlex.quote(playbook)}
        started = time.monotonic()
        try:
            runner = ansible_runner.run(
                private_data_dir=str(run_dir),
                playbook=playbook,
                ident="run",
                extravars=extravars,
                envvars=envvars,
                settings={"pexpect_timeout": 0.5},  # how often the runner checks `cancel`
                host_cwd=str(run_dir),  # no ansible.cfg picked up from wherever the worker runs
                timeout=settings.ansible_timeout_seconds,
                quiet=True,
                cancel_callback=cancel.is_set,
                **warm_args,
            )
        finally:
            killed = kill_leftovers(str(run_dir) + os.sep)
            if killed:
                activity.logger.info("killed %d leftover ansible process(es)", killed)
        seconds = time.monotonic() - started
        status, rc = runner.status, runner.rc
        changed = bool((runner.stats or {}).get("changed")) if status == "successful" else False
        failure = "" if status == "successful" else failure_message(runner, settings)
        return PlaybookOutcome(status=status, rc=rc, changed=changed, failure=failure, seconds=seconds)

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

    def _redact(self, message: str) -> str:
        """Belt and braces for an operator's playbook that might echo the key file."""
        try:
            secrets = _SECRET.findall(self._settings.tsig_key_path.read_text())
        except OSError:
            return message
        for secret in secrets:
            message = message.replace(secret, "***")
        return message


def _read_results(path: Path) -> dict[str, ChangeOutcome]:
    """The playbook's per-change outcomes; none when it never wrote them (it failed before)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return {
            str(item["request_id"]): ChangeOutcome(str(item["status"]), str(item.get("message", "")))
            for item in document["results"]
            if item.get("status") in ("applied", "conflict", "refused", "failed")
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}
