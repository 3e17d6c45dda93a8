"""Real Apache Kafka as a single-node KRaft broker, from the jars on Maven Central (no tarball, no Docker).

`python -m devstack.kafka_apache` runs it in the foreground on KAFKA_BOOTSTRAP_SERVERS with
its data under `<state_dir>/kafka`, creates the project's topics and waits for the consumer group's
coordinator (what `scripts/kafka-apache` does).
"""

from __future__ import annotations

import base64
import logging
import secrets
import signal
import socket
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

from devstack.kafka_common import (
    BrokerKind,
    ensure_topics,
    port_in_use,
    run_coroutine_sync,
    split_bootstrap,
    stop_process,
    wait_for_group_coordinator,
    wait_for_metadata,
)
from devstack.kafka_jars import DEFAULT_LIBS_DIR, INSTALL_HINT, ensure_kafka_jars, find_java, kafka_version

log = logging.getLogger("dnsorch.dev.kafka")


# Kafka's own logging goes to stdout, which start() sends to the log file together with anything
# the JVM prints. The config dumps (thousands of lines per start) are cut to warnings. Log4j2 must not
# stop itself on SIGTERM, or the last lines of Kafka's controlled shutdown are lost.
LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Logger name="org.apache.kafka.common.config.AbstractConfig" level="WARN"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Root level="INFO"><AppenderRef ref="stdout"/></Root>
  </Loggers>
</Configuration>
"""


def new_cluster_id() -> str:
    """A cluster id as `kafka-storage random-uuid` makes one: 16 random bytes, URL-safe base64."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):  # Kafka refuses those: they look like options
            return cluster_id


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ApacheKafkaBroker:
    """Single-node KRaft (broker and controller in one JVM); data persists in `data_dir` across restarts.

    Topics are not auto-created (auto.create.topics.enable=false), as in production: a producer
    to a topic nobody created fails instead of silently getting a one-partition topic. Create
    topics with `ensure_topics`.
    """

    kind: BrokerKind = "apache"

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 9092,
        controller_port: int | None = None,
        log_file: Path | None = None,
        libs_dir: Path = DEFAULT_LIBS_DIR,
        heap: str = "512m",
        sasl_users: dict[str, str] | None = None,
    ) -> None:
        """`sasl_users` (user → password): the client listener then takes SASL/PLAIN logins only."""
        self.sasl_users = sasl_users
        self._broker_password = secrets.token_urlsafe(16)  # its own login on the SASL listener
        self.data_dir = data_dir.resolve()
        self.host = host
        self.port = port
        self.controller_port = controller_port
        self.log_file = log_file or self.data_dir / "kafka.log"
        self.libs_dir = libs_dir
        self.heap = heap
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_dirs(self) -> Path:
        """Kafka's `log.dirs`: partitions and the KRaft metadata log."""
        return self.data_dir / "logs"

    def properties(self, controller_port: int) -> dict[str, str]:
        controller = f"{self.host}:{controller_port}"
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            # Static quorum: the controller address is read from here on every start, so the
            # controller port may change between starts (the data dir does not record it).
            "controller.quorum.voters": f"1@{controller}",
            "listeners": f"{self.protocol}://{self.bootstrap},CONTROLLER://{controller}",
            "advertised.listeners": f"{self.protocol}://{self.bootstrap}",
            "listener.security.protocol.map": f"{self.protocol}:{self.protocol},CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": self.protocol,
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(self.log_dirs),
            "auto.create.topics.enable": "false",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            **self._sasl_properties(),
        }

    @property
    def protocol(self) -> str:
        return "SASL_PLAINTEXT" if self.sasl_users else "PLAINTEXT"

    @property
    def admin_security(self) -> dict[str, Any]:
        """aiokafka options for the broker's own admin login (readiness, topic creation)."""
        if not self.sasl_users:
            return {}
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": "broker",
            "sasl_plain_password": self._broker_password,
        }

    def _sasl_properties(self) -> dict[str, str]:
        if not self.sasl_users:
            return {}
        users = {"broker": self._broker_password, **self.sasl_users}
        logins = " ".join(f'user_{name}="{password}"' for name, password in users.items())
        jaas = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="broker" password="{users["broker"]}" {logins};'
        )
        return {
            "sasl.enabled.mechanisms": "PLAIN",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        }

    def _java(self, main_class: str, *args: str, heap: str) -> list[str]:
        java = find_java()
        if java is None:
            raise RuntimeError(f"`java` is not on PATH; {INSTALL_HINT}")
        return [
            java,
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.xml'}",
            "-cp",
            f"{self.libs_dir}/*",
            main_class,
            *args,
        ]

    def _write_config(self, controller_port: int) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "log4j2.xml").write_text(LOG4J2_XML)
        config = self.data_dir / "server.properties"
        lines = [f"{key}={value}" for key, value in self.properties(controller_port).items()]
        config.touch(mode=0o600)  # it may hold SASL passwords
        config.chmod(0o600)
        config.write_text("# written by devstack.kafka_apache on every start\n" + "\n".join(lines) + "\n")
        return config

    def _format_storage(self, config: Path) -> None:
        """Once per data dir: write meta.properties and the bootstrap metadata (kafka-storage format)."""
        if (self.log_dirs / "meta.properties").exists():
            return
        cmd = self._java(
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            new_cluster_id(),
            "--config",
            str(config),
            heap="256m",
        )
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"formatting {self.log_dirs} failed:\n{result.stdout}{result.stderr}")
        log.info("formatted Kafka storage in %s", self.log_dirs)

    def start(self, timeout: float = 90.0) -> None:
        """Download the jars if needed, format on first use, start, and wait until metadata works."""
        ensure_kafka_jars(self.libs_dir)
        controller_port = self.controller_port or _free_port(self.host)
        for port in (self.port, controller_port):
            if port_in_use(self.host, port):
                raise RuntimeError(f"something already listens on {self.host}:{port}; not starting Kafka")
        config = self._write_config(controller_port)
        self._format_storage(config)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            self.proc = subprocess.Popen(
                self._java("kafka.Kafka", str(config), heap=self.heap),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_metadata(self.host, self.port, timeout, self.proc, self.log_file, self.admin_security)
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM runs Kafka's controlled shutdown (≈2 s here); SIGKILL only if it hangs."""
        stop_process(self.proc, grace)


def main() -> None:
    from dnsorch.logging import configure_logging
    from dnsorch.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json, role="kafka")
    host, port = split_bootstrap(settings.kafka_bootstrap_servers)
    state = settings.state_dir / "kafka"
    broker = ApacheKafkaBroker(
        state / "data", host, port, libs_dir=state / "libs", log_file=state / "kafka.log"
    )
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        broker.start()
        topics = [settings.kafka_requests_topic, settings.kafka_dlq_topic, settings.kafka_events_topic]
        run_coroutine_sync(ensure_topics(broker.bootstrap, topics, settings.kafka_topic_partitions))
        run_coroutine_sync(wait_for_group_coordinator(broker.bootstrap, settings.kafka_group_id))
        log.info(
            "Apache Kafka %s on %s (data in %s, log in %s); Ctrl-C stops it",
            kafka_version(),
            broker.bootstrap,
            broker.data_dir,
            broker.log_file,
        )
        while not stopping.wait(1.0):
            if broker.proc is not None and broker.proc.poll() is not None:
                raise SystemExit(f"Kafka exited with code {broker.proc.returncode}; see {broker.log_file}")
    finally:
        log.info("stopping Apache Kafka")
        broker.stop()


if __name__ == "__main__":
    main()
