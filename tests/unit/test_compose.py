"""docker-compose.yml, the Dockerfile and the Kubernetes manifests agree with the code they run.

No Docker engine is needed: Debian's `docker-compose` (1.29) validates the file offline, and the
rest is read as YAML and compared with `Settings`, the CLI's roles, the search attributes and the
Kafka topic defaults, so renaming any of those breaks this test instead of a deployment.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import dnsorch.cli.dispatch
from dnsorch.settings import PROJECT_ROOT, Settings
from dnsorch.telemetry import tracing_enabled
from dnsorch.temporal import SEARCH_ATTRIBUTE_NAMES

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
KUBERNETES_DIR = PROJECT_ROOT / "deploy" / "kubernetes"
INSTALL_HINT = "apt-get update && apt-get install -y docker-compose"
LONG_RUNNING_ROLES = ("api", "worker", "consumer")
METRICS_PORT_FIELDS = {"worker": "worker_metrics_port", "consumer": "consumer_metrics_port"}
REQUIRED_SERVICES = {"postgres", "temporal", "temporal-ui", "kafka", "bind", "migrate", *LONG_RUNNING_ROLES}
SETTING_NAMES = {name.upper() for name in Settings.model_fields}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _app_services() -> dict[str, dict[str, Any]]:
    """Every service that runs the dnsorch image (they all share the x-dnsorch settings)."""
    image = _compose()["x-dnsorch"]["image"]
    return {name: svc for name, svc in _services().items() if svc.get("image") == image}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def _with_defaults(value: str) -> str:
    """Resolve compose's `${VAR:-default}` to its default, as a fresh checkout would."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def _settings(service: dict[str, Any]) -> Settings:
    """What the role's Settings hold from compose's environment (fresh checkout, shell unset)."""
    env = _environment(service)
    return Settings.model_validate({key.lower(): _with_defaults(value) for key, value in env.items()})


def _script(service: dict[str, Any]) -> str:
    command = service.get("command") or []
    return command if isinstance(command, str) else " ".join(command)


def _published_ports(service: dict[str, Any]) -> set[tuple[str, str]]:
    """(host port, container port) pairs, from short ("[ip:]host:container[/proto]") or long syntax."""
    pairs = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            pairs.add((str(port.get("published", "")), str(port["target"])))
        else:
            parts = str(port).split("/")[0].split(":")
            pairs.add((parts[-2] if len(parts) > 1 else "", parts[-1]))
    return pairs


def _cli_roles() -> set[str]:
    """The roles `dnsorch` accepts: from the argparse parser if the CLI exposes one, else its source."""
    build_parser = getattr(dnsorch.cli.dispatch, "build_parser", None)
    if callable(build_parser):
        parser = build_parser()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return set(action.choices)
    return set(
        re.findall(r"""add_parser\(\s*["']([\w-]+)["']""", Path(dnsorch.cli.dispatch.__file__).read_text())
    )


def _run_compose_config(env_overrides: dict[str, str | None], env_file: Path) -> dict[str, Any]:
    tool = shutil.which("docker-compose")
    if tool is None:
        message = f"docker-compose not installed; install it with: {INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    env = dict(os.environ)
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    result = subprocess.run(
        [tool, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    assert "WARN" not in result.stderr, f"docker-compose config warned:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def test_compose_file_validates_and_env_selects_the_environment(tmp_path: Path) -> None:
    # An empty env file: a developer's own .env (dnsorch settings) must not change the result.
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    default = _run_compose_config({"ENV": None}, env_file)
    uta = _run_compose_config({"ENV": "uta"}, env_file)

    for name in LONG_RUNNING_ROLES:
        assert default["services"][name]["environment"]["ENV"] == "dev"
        assert uta["services"][name]["environment"]["ENV"] == "uta"


def test_compose_has_every_part_of_the_system() -> None:
    services = _services()

    assert REQUIRED_SERVICES <= set(services), f"missing: {REQUIRED_SERVICES - set(services)}"
    assert {"migrate", *LONG_RUNNING_ROLES} <= set(_app_services())


def test_app_environment_names_and_values_are_dnsorch_settings() -> None:
    for name, service in _app_services().items():
        env = _environment(service)
        unknown = set(env) - SETTING_NAMES
        assert not unknown, f"{name}: not dnsorch settings (renamed?): {sorted(unknown)}"
        # The values must also parse: a port that is not a number fails here, not at start-up.
        _settings(service)


def test_app_commands_are_dnsorch_roles() -> None:
    roles = _cli_roles()

    assert {"api", "worker", "migrate"} <= roles, f"could not read the CLI's roles: {roles}"
    for name, service in _app_services().items():
        command = service.get("command")
        assert isinstance(command, list) and command, f"{name}: command must be a list naming a role"
        assert command[0] in roles, f"{name}: `dnsorch {command[0]}` is not a role ({sorted(roles)})"


def test_api_and_temporal_ui_publish_their_ports() -> None:
    services = _services()

    assert ("8000", "8000") in _published_ports(services["api"])
    assert any(host == "8233" for host, _ in _published_ports(services["temporal-ui"]))


def test_worker_and_consumer_can_be_scaled() -> None:
    for name in METRICS_PORT_FIELDS:
        service = _services()[name]

        assert "container_name" not in service, name
        fixed = {host for host, _ in _published_ports(service) if host}
        assert not fixed, f"{name}: a fixed host port would stop `--scale {name}=3`: {fixed}"


def test_worker_and_consumer_publish_their_metrics_port_on_every_interface() -> None:
    for name, field in METRICS_PORT_FIELDS.items():
        service = _services()[name]
        settings = _settings(service)
        port = getattr(settings, field)

        assert settings.metrics_host == "0.0.0.0", f"{name}: METRICS_HOST must let other containers in"
        assert port, f"{name}: {field.upper()} is 0, the endpoint is off"
        assert str(port) in {target for _, target in _published_ports(service)}, f"{name}: {port}"


def test_tracing_is_off_unless_the_shell_names_a_collector(tmp_path: Path) -> None:
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    collector = "http://otel-collector:4318"
    unset = _run_compose_config({"OTEL_EXPORTER_OTLP_ENDPOINT": None}, env_file)
    passed = _run_compose_config({"OTEL_EXPORTER_OTLP_ENDPOINT": collector}, env_file)

    for name in LONG_RUNNING_ROLES:
        assert not tracing_enabled(_settings(unset["services"][name])), name
        on = _settings(passed["services"][name])
        assert tracing_enabled(on) and on.otel_exporter_otlp_endpoint == collector, name


def test_long_running_roles_start_after_the_migrations() -> None:
    for name in LONG_RUNNING_ROLES:
        depends_on = _services()[name].get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        assert depends_on.get("migrate") == {"condition": "service_completed_successfully"}, name


def test_temporal_setup_registers_exactly_our_keyword_search_attributes() -> None:
    services = _services()
    script = _script(services["temporal-setup"])
    registered = re.findall(r"--name\s+(\w+)\s+--type\s+(\w+)", script)
    namespaces = set(re.findall(r"--namespace\s+(\S+)", script))

    assert sorted(name for name, _ in registered) == sorted(SEARCH_ATTRIBUTE_NAMES)
    assert {kind for _, kind in registered} == {"Keyword"}
    app_namespaces = {_environment(svc).get("TEMPORAL_NAMESPACE") for svc in _app_services().values()}
    assert namespaces == app_namespaces


def test_kafka_setup_creates_the_topics_of_the_settings_defaults() -> None:
    script = _script(_services()["kafka-setup"])
    created = re.findall(r"--create\b.*?--topic\s+(\S+)\s+--partitions\s+(\d+)", script)
    fields = Settings.model_fields

    assert sorted(topic for topic, _ in created) == sorted(
        fields[name].default for name in ("kafka_requests_topic", "kafka_dlq_topic", "kafka_events_topic")
    )
    assert {int(partitions) for _, partitions in created} == {fields["kafka_topic_partitions"].default}


def test_worker_reaches_bind_with_the_key_bind_uses() -> None:
    services = _services()
    bind, worker = services["bind"], services["worker"]
    env = _environment(worker)

    assert env["DNS_SERVER"] == bind["networks"]["default"]["ipv4_address"]
    assert env["DNS_PORT"] == "53"
    mounts = [(m["source"], m["target"]) for s in (bind, worker) for m in s["volumes"] if isinstance(m, dict)]
    assert mounts and {target for _, target in mounts} == {env["TSIG_KEY_FILE"]}
    assert len(set(mounts)) == 1, "bind and the worker must mount the same key file"
    named_conf = (PROJECT_ROOT / "deploy" / "bind" / "named.conf").read_text()
    assert f'include "{env["TSIG_KEY_FILE"]}";' in named_conf


def test_dockerfile_runs_dnsorch_as_a_non_root_user() -> None:
    instructions = [
        line.split(None, 1)
        for line in DOCKERFILE.read_text().splitlines()
        if line.strip() and not line.startswith((" ", "#"))
    ]
    users = [args.strip() for keyword, *rest in instructions if keyword == "USER" for args in rest]
    entrypoints = [json.loads(rest[0]) for keyword, *rest in instructions if keyword == "ENTRYPOINT"]

    assert users, "no USER: the container would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert entrypoints[-1] == ["dnsorch"]
    assert "[dev]" not in DOCKERFILE.read_text()


def test_dockerfile_installs_dnsorch_as_a_wheel_and_exposes_its_ports() -> None:
    text = DOCKERFILE.read_text()
    logical_lines = re.sub(r"\\\n", " ", text).splitlines()
    runs = [line for line in logical_lines if line.startswith("RUN ")]
    exposed = {port for line in logical_lines if line.startswith("EXPOSE ") for port in line.split()[1:]}
    fields = Settings.model_fields

    # Editable installs point at a source tree the final image does not have.
    assert not [run for run in runs if re.search(r"\s(-e|--editable)\s", run)]
    assert any(re.search(r"pip .*install .*--no-deps \.$", run.strip()) for run in runs), runs
    last_from = max(i for i, line in enumerate(logical_lines) if line.startswith("FROM "))
    assert "COPY . ." not in logical_lines[last_from:], "the run stage must not carry the source tree"
    expected = {str(fields[name].default) for name in ("api_port", *METRICS_PORT_FIELDS.values())}
    assert exposed == expected


def test_docker_build_context_leaves_out_state_and_secrets() -> None:
    ignored = set((PROJECT_ROOT / ".dockerignore").read_text().split())

    assert {".git", ".venv", ".dnsorch", ".env"} <= ignored
    assert {"deploy", "deploy/secrets"} & ignored


def test_kubernetes_manifests_use_dnsorch_settings_and_roles() -> None:
    roles = _cli_roles()
    documents = [
        doc for path in sorted(KUBERNETES_DIR.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
    ]
    config_maps = [doc for doc in documents if doc["kind"] == "ConfigMap"]
    fields = Settings.model_fields
    workloads = [doc for doc in documents if doc["kind"] in {"Deployment", "Job"}]

    assert config_maps and workloads
    for config_map in config_maps:
        assert set(config_map["data"]) <= SETTING_NAMES, set(config_map["data"]) - SETTING_NAMES
        assert config_map["data"].get("METRICS_HOST") == "0.0.0.0"
    seen_roles = set()
    for workload in workloads:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            role = container["args"][0]
            seen_roles.add(role)
            assert {env["name"] for env in container.get("env", [])} <= SETTING_NAMES
            if role in METRICS_PORT_FIELDS:  # the port the role listens on, from the ConfigMap or default
                setting = METRICS_PORT_FIELDS[role]
                configured = {cm["data"].get(setting.upper()) for cm in config_maps} - {None}
                port = int(configured.pop()) if configured else fields[setting].default
                assert {"name": "metrics", "containerPort": port} in container.get("ports", []), role
    assert seen_roles == {"migrate", *LONG_RUNNING_ROLES}
    assert seen_roles <= roles
