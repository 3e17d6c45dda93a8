"""The system as real processes: `dnsorch api` and `dnsorch worker` beside real servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from devstack.temporal import TemporalDevServer, wait_for_port
from dnsorch import keys
from tests.fixtures.servers import free_port
from tests.fixtures.waiting import eventually_sync


class ProcessStack:
    """Starts dnsorch roles as child processes (own session each, so a kill takes their children)."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.api_key: str | None = env.get("DNSORCH_API_KEY")
        """An admin key (from `stack_env`): what `http` authenticates with."""
        self._http: httpx.Client | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['API_PORT']}"

    def client(self, api_key: str | None) -> httpx.Client:
        """An HTTP client for this stack's API that authenticates with `api_key` (none when None)."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=30)

    @property
    def http(self) -> httpx.Client:
        """The stack's admin client: paths are relative to the API (`stack.http.get("/api/v2/...")`)."""
        if self._http is None:
            self._http = self.client(self.api_key)
        return self._http

    def start(self, role: str, name: str | None = None, **overrides: str) -> subprocess.Popen[bytes]:
        name = name or role
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "dnsorch.cli", role],
            env={**os.environ, **self.env, **overrides},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        if role == "api":
            wait_for_port("127.0.0.1", int(overrides.get("API_PORT", self.env["API_PORT"])), 60, proc)
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL the role and everything it started, like a machine losing power."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
        if self._http is not None:
            self._http.close()
            self._http = None

    def wait_for_status(self, request_id: str, wanted: set[str], timeout: float = 90.0) -> dict[str, Any]:
        """The v1 detail of the request once its status is one of `wanted`."""
        seen = eventually_sync(
            lambda: answer_of(self.http.get(f"/api/v1/dns/{request_id}", timeout=10)),
            lambda seen: seen.code == 200 and seen.body["status"] in wanted,
            timeout=timeout,
            interval=0.3,
            what=f"request {request_id} in {sorted(wanted)}",
        )
        return dict(seen.body)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as a wait reports it when it times out: the code and the body."""

    code: int
    body: Any


def answer_of(response: httpx.Response) -> Answer:
    try:
        return Answer(response.status_code, response.json())
    except ValueError:  # not JSON
        return Answer(response.status_code, response.text[:500])


@pytest.fixture(scope="session")
def admin_key(engine: Engine) -> str:
    """An admin API key in the session's database."""
    return keys.create_key(engine, "acct-e2e-admin", "admin", "e2e-admin")[1]


@pytest.fixture(scope="session")
def stack_env(
    database_url: str,
    temporal_server: TemporalDevServer,
    bind_server: Any,
    admin_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    state = tmp_path_factory.mktemp("e2e-state")
    return {
        "DNSORCH_API_KEY": admin_key,  # read by ProcessStack and by `dnsorch requests`, not by the roles
        "API_RATE_PER_SECOND": "1000",  # tests send bursts; the limit itself is tested on its own API
        "API_RATE_BURST": "1000",
        "ENV": "test",
        "STATE_DIR": str(state),
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_server.address,
        "TEMPORAL_TASK_QUEUE": "e2e",
        "DNS_SERVER": bind_server.host,
        "DNS_PORT": str(bind_server.port),
        "DNS_ZONES": ",".join(bind_server.zones),
        "TSIG_KEY_FILE": str(bind_server.key_file),
        "API_PORT": str(free_port()),
        "ANSIBLE_INITIAL_RETRY_SECONDS": "1",
        # The session's example.test is shared by every e2e test, and requests some tests leave
        # unfinished on purpose count as changes in flight: judging by zone share here made the
        # approval of an unrelated update depend on test order (tests/unit/test_approval.py covers it).
        "APPROVAL_ZONE_MIN_RECORD_SETS": "1000000",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="session")
def stack(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessStack]:
    """One API and one worker for the session's end-to-end tests."""
    processes = ProcessStack(stack_env, tmp_path_factory.mktemp("e2e-logs"))
    try:
        processes.start("worker")
        processes.start("api")
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def slow_stack(stack_env: dict[str, str], tmp_path: Path) -> Iterator[ProcessStack]:
    """An API and worker of their own whose playbook pauses first, so a test can act mid-step."""
    slow = {
        "TEMPORAL_TASK_QUEUE": f"e2e-slow-{tmp_path.name}",
        "API_PORT": str(free_port()),
        "PLAYBOOK_PATH": str(Path(__file__).resolve().parent.parent / "fixtures" / "slow_nsupdate.yml"),
        "ANSIBLE_HEARTBEAT_SECONDS": "3",
    }
    processes = ProcessStack({**stack_env, **slow}, tmp_path)
    try:
        processes.start("worker")
        processes.start("api")
        yield processes
    finally:
        processes.stop_all()
