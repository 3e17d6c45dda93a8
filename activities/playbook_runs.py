"""One ansible-playbook run seen from outside: its outcome, why it failed and whether a retry can
help, and the processes it may leave behind."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from dataclasses import dataclass
from typing import Any

from temporalio.exceptions import ApplicationError

from dnsorch.contracts import DNS_CHANGE_FAILED, DNS_CHANGE_REJECTED
from dnsorch.settings import Settings

REJECTED = DNS_CHANGE_REJECTED
FAILED = DNS_CHANGE_FAILED

# Failures that the same change, retried, can never get past: the server said no to
# this key or this zone, or our own configuration (key file, playbook) is missing.
_PERMANENT = re.compile(
    r"\b(BADKEY|BADSIG|BADTIME|NOTAUTH|REFUSED|NOTZONE)\b"  # rcode names: upper case only,
    r"|PeerBad(Key|Signature|Time)"  # so "Connection refused" stays retryable
    r"|\(rc: (5|9|10)\)"  # REFUSED, NOTAUTH, NOTZONE as nsupdate's numeric rc
    r"|TSIG key (file|error)"
    r"|Invalid/malformed value|unsupported change"
    r"|^playbook \S+ not found|the playbook: \S+ could not be found"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def classify_failure(message: str) -> str:
    """`DnsChangeRejected` when no retry can fix the failure, else `DnsChangeFailed`."""
    return REJECTED if _PERMANENT.search(message) else FAILED


def failure_error(message: str) -> ApplicationError:
    """The ApplicationError the workflow sees for a failed playbook run."""
    error_type = classify_failure(message)
    return ApplicationError(message, type=error_type, non_retryable=error_type == REJECTED)


@dataclass
class PlaybookOutcome:
    """What one ansible-runner run ended with, read before its directory is removed."""

    status: str
    rc: int | None
    changed: bool
    failure: str
    seconds: float


def failure_message(runner: Any, settings: Settings) -> str:
    """The failing task's `msg`, else the end of ansible-playbook's output."""
    if runner.status == "timeout":
        return f"playbook did not finish within {settings.ansible_timeout_seconds}s"
    message = ""
    for event in runner.events:
        data = event.get("event_data") or {}
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            if data.get("ignore_errors"):
                continue
            res = data.get("res") or {}
            message = str(res.get("msg") or f"task {data.get('task')!r} failed (output hidden)")
    if message:
        return message
    try:
        with runner.stdout as handle:
            lines = _ANSI.sub("", handle.read()).strip().splitlines()
    except Exception:  # a run that never started has no stdout file
        lines = []
    tail = " ".join(line.strip() for line in lines[-5:] if line.strip())[-800:]
    return f"ansible-playbook ended with rc={runner.rc}: {tail or 'no output'}"


def kill_leftovers(marker: str) -> int:
    """SIGKILL every process whose command line names `marker` (the run dir), and descendants.

    ansible-runner kills only ansible-playbook's process group, but ansible-core (2.17+)
    starts each worker in a session of its own: after a cancel or timeout the worker, and
    whatever command it runs, would otherwise live on.
    """
    needle, procs = marker.encode(), {}
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:  # no procfs: nothing we can do beyond ansible-runner's own kill
        return 0
    for name in entries:
        try:
            with open(f"/proc/{name}/stat", "rb") as stat, open(f"/proc/{name}/cmdline", "rb") as cmd:
                procs[int(name)] = (int(stat.read().rsplit(b")", 1)[1].split()[1]), cmd.read())
        except (OSError, ValueError, IndexError):
            continue
    doomed = {pid for pid, (_, cmdline) in procs.items() if needle in cmdline}
    doomed.discard(os.getpid())
    while True:  # snapshot the whole tree first: killed parents orphan their children
        children = {pid for pid, (ppid, _) in procs.items() if ppid in doomed} - doomed
        if not children:
            break
        doomed |= children
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(doomed)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
