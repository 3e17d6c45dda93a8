"""The soak's own real stack: PostgreSQL, Temporal, BIND + Knot, Kafka, API, consumer, two workers.

Temporal is the dev server (`engine="dev"`, the default) or, with `engine="server"` (`make soak
ENGINE=server`), the production server built from source on the soak's own PostgreSQL
(devstack/temporal_server.py): what compose deploys.

Built from the dev stack's supervisors (devstack/) on free ports under one run directory, so a soak
never touches `make run`'s `.dnsorch` state or the test suite's servers. Every part can be killed,
stopped, frozen or restarted by the fault injector, and `stop` ends everything it started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devstack.bind import BindServer, ensure_tsig_key
from devstack.kafka import (
    TansuBroker,
    ensure_topics,
    run_coroutine_sync,
    wait_for_group_coordinator,
)
from devstack.kafka_apache import ApacheKafkaBroker
from devstack.kafka_jars import DEFAULT_LIBS_DIR
from devstack.knot import SECONDARY_HOST, KnotServer
from devstack.ports import free_port
from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer, wait_for_port
from devstack.temporal_server import TemporalServer
from dnsorch.store import keys, make_engine
from soak.snapshot import migrate, snapshot_code

log = logging.getLogger("soak.stack")

ZONE = "example.test"
REVERSE_ZONE = "2.0.192.in-addr.arpa"
ACCOUNTS = ("acct-a", "acct-b", "acct-c")
TASK_QUEUE = "soak"
ENGINES = ("dev", "server")
ROLES = {"api": "api", "consumer": "consumer", "worker-1": "worker", "worker-2": "worker"}
"""Process name → `dnsorch` role: two workers on one task queue, the scale-out shape."""

TIMEOUTS = {
    # Short, so that every request ends within a soak: nothing waits days for a person.
    "APPROVAL_TIMEOUT_SECONDS": "20",
    "ATTENTION_TIMEOUT_SECONDS": "25",
    "DNS_PROPAGATION_TIMEOUT_SECONDS": "12",
    "DNS_PROPAGATION_INTERVAL_SECONDS": "1",
    "DNS_VERIFY_TIMEOUT_SECONDS": "3",
    "ANSIBLE_MAX_ATTEMPTS": "3",
    "ANSIBLE_INITIAL_RETRY_SECONDS": "1",
    "ANSIBLE_MAX_RETRY_SECONDS": "5",
    "ANSIBLE_TIMEOUT_SECONDS": "90",
    "ANSIBLE_HEARTBEAT_SECONDS": "5",
}
"""The settings that bound a request's life; the checker derives its deadline from them."""
TIMED = {
    # Seconds, not minutes, so the time-aware stories of soak/timed.py end within a soak.
    "TTL_DANCE_SHORT_TTL": "1",
    "RECORD_EXPIRY_WARNING_SECONDS": "2",
    "RECORD_EXPIRY_RECHECK_SECONDS": "2",
}
"""The TTL dance lowers to 1 s (its records' TTLs are 3-10 s, so its wait is seconds); an expiry
warns 2 s ahead and, behind another request, looks again after 2 s."""
DRIFT = {"DRIFT_POLICY": "heal", "DRIFT_INTERVAL_SECONDS": "10"}
"""Drift healed within a soak, so the checker can want DNS equal to `dns_records` after changes made
by hand, and a drift request only where a person changed something (soak/drift_check.py)."""


@dataclass
class Keys:
    """The API keys the soak acts with: one submitter per account, one operator."""

    submitters: dict[str, str]
    operator: str


class SoakStack:
    def __init__(self, root: Path, kafka_kind: str, engine: str = "dev", code_rev: str | None = None) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r}: one of {', '.join(ENGINES)}")
        self.root = root.resolve()
        self.logs = self.root / "logs"
        self.code = self.root / "code"
        self.code_rev = code_rev
        """None: the roles run the working tree as it is at start; a git revision: that commit."""
        self.kafka_kind = kafka_kind
        self.engine = engine
        self.postgres: LocalPostgres | None = None
        self.temporal: TemporalDevServer | TemporalServer | None = None
        self.bind: BindServer | None = None
        self.knot: KnotServer | None = None
        self.kafka: TansuBroker | ApacheKafkaBroker | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}
        self.keys: Keys | None = None
        self.database_url = ""
        self.knot_frozen = False

    # ---- start ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.snapshot_code()
        self.postgres = LocalPostgres(self.root / "pg", port=free_port(also_on=()))
        self.postgres.start(database="dnsorch")
        self.database_url = self.postgres.url("dnsorch")
        migrate(self.code, self.database_url)
        self.keys = self._make_keys()
        self.temporal = self._new_temporal()
        self.temporal.start()  # the server also registers its search attributes before any role starts
        key_file = self.root / "tsig" / "tsig.key"
        ensure_tsig_key(key_file)
        dns_port = free_port()
        zones = [ZONE, REVERSE_ZONE]
        self.bind = BindServer(self.root / "bind", zones, dns_port, key_file, secondaries=[SECONDARY_HOST])
        self.bind.start()
        self.knot = KnotServer(self.root / "knot", zones, dns_port, key_file, primary_host=self.bind.host)
        self.knot.start()
        kafka_port = free_port(also_on=())
        self.kafka = self._new_broker(kafka_port)
        self.start_kafka()
        self.env = {
            "ENV": "test",
            "STATE_DIR": str(self.root / "state"),
            "DATABASE_URL": self.database_url,
            "TEMPORAL_ADDRESS": self.temporal.address,
            "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
            "DNS_SERVER": self.bind.host,
            "DNS_PORT": str(dns_port),
            "DNS_ZONES": ",".join(zones),
            "TSIG_KEY_FILE": str(key_file),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
            "KAFKA_GROUP_ID": "soak",
            "API_PORT": str(free_port(also_on=())),
            "API_RATE_PER_SECOND": "100000",
            "API_RATE_BURST": "100000",
            "WORKER_METRICS_PORT": "0",
            "CONSUMER_METRICS_PORT": "0",
            "LOG_LEVEL": "INFO",
            **TIMEOUTS,
            **TIMED,
            **DRIFT,
        }
        (self.root / "state").mkdir(exist_ok=True)
        for name in ("worker-1", "worker-2", "consumer", "api"):
            self.start_role(name)

    def snapshot_code(self) -> None:
        """Copy the product's code as it is now (or `code_rev`); the roles run this copy, restarts
        included (soak/snapshot.py says why)."""
        snapshot_code(self.code, self.code_rev)

    def _make_keys(self) -> Keys:
        engine = make_engine(self.database_url)
        try:
            submitters = {a: keys.create_key(engine, a, "submitter", f"soak-{a}")[1] for a in ACCOUNTS}
            operator = keys.create_key(engine, "soak-ops", "operator", "soak-operator")[1]
        finally:
            engine.dispose()
        return Keys(submitters, operator)

    def _new_temporal(self) -> TemporalDevServer | TemporalServer:
        if self.engine == "server":
            assert self.postgres is not None
            return TemporalServer(
                self.root / "temporal",
                self.postgres.host,
                self.postgres.port,
                free_port(also_on=()),
                log_file=self.logs / "temporal.log",
            )
        return TemporalDevServer(
            self.root / "temporal" / "temporal.db",
            free_port(also_on=()),
            free_port(also_on=()),
            log_file=self.logs / "temporal.log",
        )

    def _new_broker(self, port: int) -> TansuBroker | ApacheKafkaBroker:
        if self.kafka_kind == "tansu":
            return TansuBroker("127.0.0.1", port, log_file=self.logs / "kafka-tansu.log")
        libs = Path(os.environ.get("KAFKA_LIBS_DIR") or DEFAULT_LIBS_DIR)
        return ApacheKafkaBroker(
            self.root / "kafka", "127.0.0.1", port, libs_dir=libs, log_file=self.logs / "kafka.log"
        )

    def start_kafka(self) -> None:
        assert self.kafka is not None
        self.kafka.start()
        topics = ["dns_requests", "dns_requests.dlq", "dns_requests.events"]
        run_coroutine_sync(ensure_topics(self.kafka.bootstrap, topics, 4))
        run_coroutine_sync(wait_for_group_coordinator(self.kafka.bootstrap, "soak"))

    # ---- roles ---------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['API_PORT']}"

    def start_role(self, name: str) -> None:
        out = open(self.logs / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "dnsorch.cli", ROLES[name]],
            cwd=self.code,  # `-m` puts the working directory first on sys.path: the snapshot's code
            env={**os.environ, **self.env, "PYTHONPATH": str(self.code)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill takes its playbooks too
        )
        out.close()
        self.procs[name] = proc
        if name == "api":
            wait_for_port("127.0.0.1", int(self.env["API_PORT"]), 90, proc)

    def kill_role(self, name: str) -> None:
        """SIGKILL the role and everything it started, like a machine losing power."""
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def dead_roles(self) -> list[str]:
        return [name for name, proc in list(self.procs.items()) if proc.poll() is not None]

    def api_ready(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/readyz", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_api_ready(self, timeout: float = 90.0) -> float:
        started = time.monotonic()
        while not self.api_ready():
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"the API is not ready after {timeout:.0f}s")
            time.sleep(0.2)
        return time.monotonic() - started

    # ---- servers the faults act on -------------------------------------------------------------

    def freeze_knot(self) -> None:
        assert self.knot is not None and self.knot.pid is not None
        os.kill(self.knot.pid, signal.SIGSTOP)
        self.knot_frozen = True

    def thaw_knot(self) -> None:
        if self.knot is not None and self.knot.pid is not None and self.knot_frozen:
            os.kill(self.knot.pid, signal.SIGCONT)
        self.knot_frozen = False

    # ---- stop ----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Everything, roles first (SIGTERM, then SIGKILL), then the servers; never raises."""
        self.thaw_knot()
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
        servers: list[tuple[str, Any]] = [
            ("Kafka", self.kafka),
            ("Knot", self.knot),
            ("BIND", self.bind),
            ("Temporal", self.temporal),
            ("PostgreSQL", self.postgres),
        ]
        for label, server in servers:
            if server is None:
                continue
            try:
                server.stop()
            except Exception:
                log.exception("could not stop %s cleanly", label)
