"""The production Temporal server (`go.temporal.io/server`, what compose deploys), built from source.

For `make soak ENGINE=server`: the same engine compose runs, on a PostgreSQL the caller started (its
persistence and SQL visibility), not the dev server's SQLite. Steps, the first time:

1. build `cmd/server` and `cmd/tools/sql` at the version docker-compose.yml pins, with `go install`
   at low priority, into `.dnsorch/temporal-server/<version>/` (kept: later runs reuse it;
   devstack/temporal_build.py);
2. create role `temporal` and its two databases, then load the schema with the sql tool, as
   compose's `temporal-schema` service does (devstack/temporal_schema.py);
3. write a config (every port free, compose's dynamic config) and start the server;
4. create namespace `default` and register the search attributes (dnsorch.temporal, as the
   worker does), then wait until the namespace maps them: on SQL visibility the mapping shows up
   a little after the registration answers, and until then a start naming them fails with
   "Namespace default has no mapping defined for search attribute …" (PITFALLS.md).

A restart (`stop`, then `start`) only starts the process again and waits for it to serve.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from devstack.ports import free_port
from devstack.temporal import wait_for_port
from devstack.temporal_build import PROJECT, ServerBuild, pinned_version
from devstack.temporal_schema import DB_PASSWORD, DB_USER, setup_databases
from dnsorch.temporal import ensure_search_attributes, initial_attributes

__all__ = ["ServerBuild", "TemporalServer", "membership_port", "pinned_version"]

log = logging.getLogger("devstack.temporal_server")

NAMESPACE = "default"
PROBE_WORKFLOW_TYPE = "dnsorch-search-attribute-probe"


def membership_port(host: str = "127.0.0.1") -> int:
    """A free port below 32768: the server stores membership ports in a PostgreSQL `smallint`
    (`cluster_membership.rpc_port`), and Linux hands out ephemeral ports from 32768 up."""
    rng = random.Random()  # noqa: S311  (a port, not a secret)
    for _ in range(200):
        port = rng.randrange(20000, 32768)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below 32768 for the Temporal server's membership")


class TemporalServer:
    """One `server start` process on PostgreSQL at `pg_host:pg_port` (trust auth, superuser `postgres`)."""

    def __init__(
        self,
        root: Path,
        pg_host: str,
        pg_port: int,
        port: int,
        host: str = "127.0.0.1",
        log_file: Path | None = None,
        build: ServerBuild | None = None,
    ) -> None:
        self.root = root.resolve()
        self.pg_host = pg_host
        self.pg_port = pg_port
        self.port = port
        self.host = host
        self.log_file = log_file
        self.build = build or ServerBuild()
        self.config_file = self.root / "config.yaml"
        self.proc: subprocess.Popen[bytes] | None = None
        self.prepared = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # ---- start and stop ------------------------------------------------------------------------

    def start(self, timeout: float = 180.0) -> None:
        """Build, set up and register on the first start; later starts only start and wait."""
        started = time.monotonic()
        if not self.prepared:
            self.build.ensure()
            self.root.mkdir(parents=True, exist_ok=True)
            setup_databases(self.build, self.pg_host, self.pg_port)
            self.write_config()
        command = [str(self.build.server), "--config-file", str(self.config_file), "--allow-no-auth", "start"]
        with open(self.log_file or os.devnull, "ab") as out:
            self.proc = subprocess.Popen(
                command, cwd=self.root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for_port(self.host, self.port, timeout, self.proc)
        remaining = max(10.0, timeout - (time.monotonic() - started))
        asyncio.run(self._ready(first=not self.prepared, within=remaining))
        self.prepared = True
        log.info("Temporal server %s serves on %s", self.build.version, self.address)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    # ---- config -------------------------------------------------------------------------------

    def write_config(self) -> None:
        """development-postgres12.yaml's shape, every port free, compose's dynamic config."""
        dynamic = self.root / "dynamicconfig.yaml"
        shutil.copyfile(PROJECT / "deploy" / "temporal" / "dynamicconfig.yaml", dynamic)

        def store(database: str, conns: int) -> dict[str, Any]:
            return {
                "sql": {
                    "pluginName": "postgres12",
                    "databaseName": database,
                    "connectAddr": f"{self.pg_host}:{self.pg_port}",
                    "connectProtocol": "tcp",
                    "user": DB_USER,
                    "password": DB_PASSWORD,
                    "maxConns": conns,
                    "maxIdleConns": conns,
                    "maxConnLifetime": "1h",
                }
            }

        def service(grpc: int, **more: int) -> dict[str, Any]:
            rpc = {"grpcPort": grpc, "membershipPort": membership_port(), "bindOnLocalHost": True, **more}
            return {"rpc": rpc}

        config = {
            "log": {"stdout": True, "level": "warn"},
            "persistence": {
                "defaultStore": "postgres-default",
                "visibilityStore": "postgres-visibility",
                "numHistoryShards": 4,
                "datastores": {
                    "postgres-default": store("temporal", 10),
                    "postgres-visibility": store("temporal_visibility", 4),
                },
            },
            "global": {"membership": {"maxJoinDuration": "30s", "broadcastAddress": self.host}},
            "services": {
                "frontend": service(self.port, httpPort=free_port(also_on=())),
                "matching": service(free_port(also_on=())),
                "history": service(free_port(also_on=())),
                "worker": service(free_port(also_on=())),
            },
            "clusterMetadata": {
                "enableGlobalNamespace": False,
                "failoverVersionIncrement": 10,
                "masterClusterName": "active",
                "currentClusterName": "active",
                "clusterInformation": {
                    "active": {
                        "enabled": True,
                        "initialFailoverVersion": 1,
                        "rpcName": "frontend",
                        "rpcAddress": self.address,
                    },
                },
            },
            "dcRedirectionPolicy": {"policy": "noop"},
            "dynamicConfigClient": {"filepath": str(dynamic), "pollInterval": "10s"},
        }
        self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))

    # ---- serving, namespace, search attributes ------------------------------------------------

    async def _ready(self, first: bool, within: float) -> None:
        deadline = time.monotonic() + within
        client = await _retry(lambda: Client.connect(self.address, namespace=NAMESPACE), deadline)
        if first:
            await _retry(lambda: self._ensure_namespace(client), deadline)
            await _retry(lambda: ensure_search_attributes(client, NAMESPACE), deadline)
            await _retry(lambda: self._probe_search_attributes(client), deadline)
        else:
            await _retry(
                lambda: client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=NAMESPACE)
                ),
                deadline,
            )

    async def _ensure_namespace(self, client: Client) -> None:
        try:
            await client.workflow_service.register_namespace(
                RegisterNamespaceRequest(
                    namespace=NAMESPACE,
                    workflow_execution_retention_period=Duration(
                        seconds=int(timedelta(days=1).total_seconds())
                    ),
                )
            )
        except RPCError as error:
            if error.status != RPCStatusCode.ALREADY_EXISTS:
                raise
        # The namespace registry of every service refreshes on its own clock: describe until it shows.
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=NAMESPACE))

    async def _probe_search_attributes(self, client: Client) -> None:
        """Start (and terminate) a workflow naming every attribute: it fails until the namespace maps
        them. No worker polls its task queue; its type is not one the soak or the checker lists."""
        handle = await client.start_workflow(
            PROBE_WORKFLOW_TYPE,
            id=f"dnsorch-sa-probe-{uuid.uuid4()}",
            task_queue="dnsorch-probe",
            search_attributes=initial_attributes(
                domain="probe.invalid",
                zone="invalid",
                record_type="A",
                operation="probe",
                status="PROBE",
                account="probe",
                source="probe",
            ),
        )
        await handle.terminate("search attribute probe")
        # History and matching refresh their namespace registries on their own (every 2 s by
        # default): wait two periods, so an upsert from a workflow finds the mapping too.
        await asyncio.sleep(4.0)


async def _retry(call: Any, deadline: float, every: float = 1.0) -> Any:
    """`await call()` until it succeeds, retrying RPC and connection errors until `deadline`."""
    while True:
        try:
            return await call()
        except (RPCError, RuntimeError, OSError) as error:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Temporal server is not ready: {error}") from error
            log.info("Temporal server not ready yet: %s", str(error)[:200])
            await asyncio.sleep(every)
