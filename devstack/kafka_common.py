"""What the Kafka-protocol brokers the project starts share (devstack/kafka_tansu.py, kafka_apache.py):
waiting until a metadata request works, stopping a process, creating the topics we need, and waiting
until a consumer group's coordinator answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Literal, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, NoError, TopicAlreadyExistsError, for_code

from devstack.temporal import wait_for_port

BrokerKind = Literal["tansu", "apache"]
log = logging.getLogger("dnsorch.dev.kafka")
T = TypeVar("T")


def run_coroutine_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on a private loop in a helper thread, so sync callers work inside a running loop too."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


async def cluster_brokers(
    bootstrap: str, request_timeout_ms: int = 5_000, security: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The brokers a metadata request reports; raises while the broker cannot answer one."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms, **(security or {})
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return list(cluster["brokers"])
    finally:
        await admin.close()


def wait_for_metadata(
    host: str,
    port: int,
    timeout: float,
    proc: subprocess.Popen[bytes],
    log_file: Path | None,
    security: dict[str, Any] | None = None,
) -> None:
    """Block until the broker answers a metadata request listing itself; fail early if it dies.

    An open port is not enough: Apache Kafka accepts connections before the broker has
    registered with its controller, and clients then see an empty cluster.
    """
    deadline = time.monotonic() + timeout
    try:
        wait_for_port(host, port, timeout, proc)
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the broker exited with code {proc.returncode}")
            try:
                if run_coroutine_sync(cluster_brokers(f"{host}:{port}", security=security)):
                    return
                problem = "metadata lists no broker yet"
            except Exception as exc:
                problem = repr(exc)
            if time.monotonic() > deadline:
                raise RuntimeError(f"no metadata from {host}:{port} after {timeout:.0f}s: {problem}")
            time.sleep(0.25)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}\n--- last lines of {log_file} ---\n{log_tail(log_file)}") from None


def log_tail(log_file: Path | None, lines: int = 40) -> str:
    if log_file is None or not log_file.exists():
        return "(no log file)"
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    """SIGTERM (graceful shutdown), then SIGKILL the whole session if it is still there after `grace`."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        log.warning("broker pid %s ignored SIGTERM for %.0fs; killing it", proc.pid, grace)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


async def ensure_topics(
    bootstrap: str, topics: list[str], partitions: int, security: dict[str, Any] | None = None
) -> None:
    """Create the topics that do not exist yet; leave existing ones alone (their partition count too).

    Returns once every topic is in the metadata with a leader for each partition, so a producer
    started right after does not race the broker's metadata propagation. `security`: the options
    of `dnsorch.kafka_client.security_options`, for a secured broker.
    """
    if not topics:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(security or {}))
    await admin.start()
    try:
        missing = sorted(set(topics) - set(await admin.list_topics()))
        if missing:
            response = await admin.create_topics(
                [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing]
            )
            for name, code, message in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise RuntimeError(f"could not create topic {name}: error {code} {message}")
            log.info("created Kafka topics %s with %d partitions", ", ".join(missing), partitions)
        for topic in await _wait_for_leaders(admin, topics):
            if len(topic["partitions"]) != partitions:
                log.warning(
                    "topic %s exists with %d partitions, not %d; left as it is",
                    topic["topic"],
                    len(topic["partitions"]),
                    partitions,
                )
    finally:
        await admin.close()


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, topics: list[str], max_wait: float = 30.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + max_wait
    while True:
        described = await admin.describe_topics(topics)
        pending = [
            t["topic"]
            for t in described
            if t["error_code"] != 0 or not t["partitions"] or any(p["leader"] < 0 for p in t["partitions"])
        ]
        if not pending:
            return list(described)
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics without leaders after {max_wait:.0f}s: {', '.join(pending)}")
        await asyncio.sleep(0.2)


async def wait_for_group_coordinator(
    bootstrap: str, group_id: str, max_wait: float = 60.0, security: dict[str, Any] | None = None
) -> None:
    """Return once the broker's coordinator for `group_id` answers for that group.

    Metadata alone does not mean a consumer can join. Apache Kafka creates `__consumer_offsets` on
    the first FindCoordinator and then loads its partitions (≈1.5 s on a fresh broker, also after a
    restart); a consumer starting meanwhile logs GroupCoordinatorNotAvailableError at ERROR and
    "Marking the coordinator dead" at WARNING until they are loaded. DescribeGroups, sent to the
    coordinator FindCoordinator names, succeeds only once the group's partition is loaded, and it
    neither joins nor disturbs the group (on Tansu every join costs half a session timeout).
    Retriable errors mean "not yet"; any other fails at once.
    """
    deadline = time.monotonic() + max_wait
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000, **(security or {}))
    await admin.start()
    try:
        while True:
            try:
                [response] = await admin.describe_consumer_groups([group_id])
                error = for_code(response.groups[0][0])
                if error is NoError:
                    return
                problem: KafkaError = error()
            except KafkaError as exc:  # FindCoordinator's error, or the connection's
                problem = exc
            if not problem.retriable:
                raise RuntimeError(f"the coordinator of group {group_id} on {bootstrap}: {problem!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no coordinator for group {group_id} on {bootstrap} after {max_wait:.0f}s: {problem!r}"
                )
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


def split_bootstrap(bootstrap: str) -> tuple[str, int]:
    """`host:port` of the first server in a bootstrap list."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    return host or "127.0.0.1", int(port)
