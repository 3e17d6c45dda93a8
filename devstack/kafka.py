"""Kafka-protocol brokers the project starts itself: the embedded Tansu (kafka_tansu.py) and Apache
Kafka (kafka_apache.py), and what they share (kafka_common.py).

Both are used by `dnsorch dev` (DEV_KAFKA=tansu|apache) and by the test fixtures, which import them
from here. This module only chooses and starts one: the broker modules import kafka_common, never
this module or each other (an import-linter contract).
"""

from __future__ import annotations

from pathlib import Path

from devstack.kafka_apache import ApacheKafkaBroker
from devstack.kafka_common import (
    BrokerKind,
    ensure_topics,
    run_coroutine_sync,
    split_bootstrap,
    stop_process,
    wait_for_group_coordinator,
    wait_for_metadata,
)
from devstack.kafka_tansu import TansuBroker


def start_broker(
    kind: BrokerKind, state_dir: Path, bootstrap: str, log_dir: Path
) -> TansuBroker | ApacheKafkaBroker:
    """Start the dev stack's broker on `bootstrap`; Apache Kafka keeps its data in `<state_dir>/kafka`."""
    host, port = split_bootstrap(bootstrap)
    broker: TansuBroker | ApacheKafkaBroker
    if kind == "tansu":
        broker = TansuBroker(host, port, log_file=log_dir / "kafka-tansu.log")
    else:
        broker = ApacheKafkaBroker(
            state_dir / "kafka" / "data",
            host,
            port,
            libs_dir=state_dir / "kafka" / "libs",
            log_file=log_dir / "kafka.log",
        )
    broker.start()
    return broker


__all__ = [
    "ApacheKafkaBroker",
    "BrokerKind",
    "TansuBroker",
    "ensure_topics",
    "run_coroutine_sync",
    "split_bootstrap",
    "start_broker",
    "stop_process",
    "wait_for_group_coordinator",
    "wait_for_metadata",
]
