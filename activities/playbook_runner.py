"""One playbook run per batch of changes: the worker's ZoneBatcher (activities/batching.py) hands a
batch to `PlaybookRunner.run_batch`, which writes it to a private per-run directory, runs the
playbook through ansible-runner (cold, or warm through activities/warm_playbook.py) and reads back
each change's outcome.

Everything a run writes lives in a private per-run directory that is removed afterwards; request
strings reach Ansible only as a JSON file and the TSIG secret only as a key-file path, so neither
templating nor artifacts can leak or execute them.
"""

from __future__ import annotations

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
from pathlib import Path

import ansible_runner
from temporalio import activity

from activities import metrics
from activities.batching import Batch, ChangeOutcome
from activities.playbook_runs import (
    REJECTED,
    PlaybookOutcome,
    classify_failure,
    failure_message,
    kill_leftovers,
    process_alive,
)
from activities.pools import ThreadPool
from activities.warm_playbook import WarmPlaybook
from dnsorch.settings import Settings

_SECRET = re.compile(r'secret\s+"([^"]+)"')
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PlaybookRunner:
    """Built once per worker; runs at most WORKER_PLAYBOOK_THREADS playbooks at once."""

    def __init__(self, settings: Settings, *, keep_run_dirs: bool = False) -> None:
        self._settings = settings
        self._pool = ThreadPool("ansible", settings.worker_playbook_threads)
        self._keep_run_dirs = keep_run_dirs
        self._runs_dir = settings.state_dir / "ansible-runs"
        self._bin_dir = str(Path(sys.executable).parent)  # not resolved: the venv's bin
        self.warm = WarmPlaybook() if settings.worker_playbook_warm else None

    async def run_batch(self, batch: Batch) -> dict[str, ChangeOutcome]:
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
        if self.warm is not None:
            self.warm.close()

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
        warm = self.warm.prepare() if self.warm is not None else None
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

    def redact(self, message: str) -> str:
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
