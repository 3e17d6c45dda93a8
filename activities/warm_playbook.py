"""WORKER_PLAYBOOK_WARM: playbook runs forked from a process that imported Ansible once.

ansible-runner still drives every run (events, artifacts, timeout, cancel); only its executable
changes, to a launcher (activities/warm_client.py) that hands the run to a fork server
(activities/warm_zygote.py). The server starts on first use, dies with the worker (it exits when
the pipe from us closes) and is started again by the next run after it died.
"""

from __future__ import annotations

import logging
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from activities.warm_client import SOCKET_ENV

log = logging.getLogger(__name__)
_HERE = Path(__file__).resolve().parent
_READY_SECONDS = 60.0
_RETRY_SECONDS = 60.0  # after a failed start, runs go cold this long before the next try


@dataclass(frozen=True)
class WarmRun:
    """What ansible-runner needs for one warm run: its executable and one environment variable."""

    launcher: Path
    env: dict[str, str]


class _Server:
    """One fork server process and its private directory (socket and launcher)."""

    def __init__(self) -> None:
        # A short path (a unix socket path holds 107 bytes), mode 0700: only we may connect.
        self.directory = Path(tempfile.mkdtemp(prefix="dnsorch-warm-"))
        self.socket = self.directory / "socket"
        self.launcher = self.directory / "ansible-playbook"
        client = (_HERE / "warm_client.py").read_text(encoding="utf-8")
        self.launcher.write_text(f"#!{sys.executable} -I\n{client}", encoding="utf-8")
        self.launcher.chmod(0o700)
        self.process = subprocess.Popen(  # -P: our directory is not put on its sys.path
            [sys.executable, "-P", str(_HERE / "warm_zygote.py"), str(self.socket)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl-C is the worker's to handle, not ours
        )

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], _READY_SECONDS)
        line = self.process.stdout.readline() if ready else b""
        self.process.stdout.close()
        if line.strip() != b"ready":
            self.stop()
            raise RuntimeError(f"the warm playbook server did not start (rc {self.process.poll()})")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Idempotent: closing its stdin ends the server, whose run leaders then kill their runs."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


class WarmPlaybook:
    """The worker's fork server for ansible-playbook; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._retry_at = 0.0

    def prepare(self) -> WarmRun | None:
        """The launcher for the next run, starting the server if needed; None: run cold."""
        with self._lock:
            server = self._server
            if server is not None and server.alive():
                return self._run_of(server)
            if time.monotonic() < self._retry_at:
                return None
            if server is not None:
                log.warning(
                    "the warm playbook server ended (rc %s); starting a new one", server.process.poll()
                )
                server.stop()
            try:
                server = _Server()
                weakref.finalize(self, server.stop)
                server.wait_ready()
            except (OSError, RuntimeError) as exc:
                self._server = None
                self._retry_at = time.monotonic() + _RETRY_SECONDS
                log.warning("warm playbook server unavailable (%s); runs start cold for a while", exc)
                return None
            self._server = server
            return self._run_of(server)

    def pid(self) -> int | None:
        """The server's pid (for tests and diagnostics), if it runs."""
        server = self._server
        return server.process.pid if server is not None and server.alive() else None

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None

    @staticmethod
    def _run_of(server: _Server) -> WarmRun:
        return WarmRun(launcher=server.launcher, env={SOCKET_ENV: str(server.socket)})
