"""The production Temporal server's binaries and schema, built once from source with Go.

`go install` of `cmd/server` and `cmd/tools/sql` at the version docker-compose.yml pins, at low
priority, into `.dnsorch/temporal-server/<version>/` (kept: later runs reuse it), and the schema
copied from the Go module cache beside them.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger("devstack.temporal_server")

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = PROJECT / ".dnsorch" / "temporal-server"
FALLBACK_VERSION = "1.30.1"


def pinned_version(compose: Path = PROJECT / "docker-compose.yml") -> str:
    """The server version docker-compose.yml deploys (`temporalio/server:<version>`)."""
    try:
        found = re.search(r"image:\s*temporalio/server:(\S+)", compose.read_text())
    except OSError:
        found = None
    return found.group(1) if found else FALLBACK_VERSION


class ServerBuild:
    """The two binaries and the schema of one version, built once into `cache/<version>/`."""

    def __init__(self, version: str | None = None, cache: Path = DEFAULT_CACHE) -> None:
        self.version = version or pinned_version()
        self.dir = cache / self.version
        self.server = self.dir / "bin" / "server"
        self.sql_tool = self.dir / "bin" / "sql"
        self.schema = self.dir / "schema" / "postgresql" / "v12"

    def ready(self) -> bool:
        return self.server.exists() and self.sql_tool.exists() and (self.schema / "temporal").is_dir()

    def ensure(self, timeout: float = 3600.0) -> ServerBuild:
        """Build what is missing (minutes on a fresh Go cache); one build at a time per machine."""
        if self.ready():
            return self
        go = shutil.which("go")
        if go is None:
            raise RuntimeError("ENGINE=server needs Go (https://go.dev/dl/) to build the Temporal server")
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".build.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._build(go, timeout)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return self

    def _build(self, go: str, timeout: float) -> None:
        env = {**os.environ, "GOBIN": str(self.server.parent)}
        for binary, package in ((self.server, "cmd/server"), (self.sql_tool, "cmd/tools/sql")):
            if binary.exists():
                continue
            log.info("building go.temporal.io/server/%s@v%s (minutes, the first time)", package, self.version)
            subprocess.run(
                ["nice", "-n", "19", go, "install", f"go.temporal.io/server/{package}@v{self.version}"],
                env=env,
                check=True,
                timeout=timeout,
            )
        if not (self.schema / "temporal").is_dir():
            modcache = subprocess.run(
                [go, "env", "GOMODCACHE"], capture_output=True, text=True, check=True
            ).stdout.strip()
            source = (
                Path(modcache) / f"go.temporal.io/server@v{self.version}" / "schema" / "postgresql" / "v12"
            )
            shutil.copytree(source, self.schema, dirs_exist_ok=True)
