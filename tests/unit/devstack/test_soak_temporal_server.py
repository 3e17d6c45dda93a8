"""`make soak ENGINE=server`'s Temporal server config, without building or starting it (no Go here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from devstack.temporal_server import ServerBuild, TemporalServer, pinned_version

PROJECT = Path(__file__).resolve().parents[3]


def test_the_server_built_is_the_version_compose_deploys() -> None:
    compose = (PROJECT / "docker-compose.yml").read_text()
    assert f"temporalio/server:{pinned_version()}" in compose
    assert re.search(rf"temporalio/admin-tools:{re.escape(pinned_version())}\b", compose)


def test_config_serves_on_the_asked_port_with_membership_ports_postgresql_can_store(tmp_path: Path) -> None:
    """The server keeps membership ports in a PostgreSQL smallint: one from the ephemeral range
    (32768 and up) made it exit at start with `value "34773" is out of range for type smallint`."""
    server = TemporalServer(tmp_path, "127.0.0.1", 5432, 45678, build=ServerBuild(cache=tmp_path / "cache"))
    server.root.mkdir(parents=True, exist_ok=True)
    server.write_config()
    config = yaml.safe_load(server.config_file.read_text())
    services = config["services"]
    assert services["frontend"]["rpc"]["grpcPort"] == 45678
    assert config["clusterMetadata"]["clusterInformation"]["active"]["rpcAddress"] == "127.0.0.1:45678"
    assert all(0 < s["rpc"]["membershipPort"] < 32768 for s in services.values())
    stores = config["persistence"]["datastores"]
    assert {s["sql"]["connectAddr"] for s in stores.values()} == {"127.0.0.1:5432"}
    dynamic = Path(config["dynamicConfigClient"]["filepath"])
    assert dynamic.read_text() == (PROJECT / "deploy" / "temporal" / "dynamicconfig.yaml").read_text()
