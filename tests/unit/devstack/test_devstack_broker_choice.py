"""`dnsorch dev` picks Apache Kafka where a JDK 17+ can run it, else Tansu; an explicit DEV_KAFKA wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.broker_choice import choose_broker, requested_kafka
from devstack.kafka_jars import MARKER, kafka_version
from dnsorch.settings import Settings


def fake_tool(directory: Path, name: str, script: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / name
    tool.write_text("#!/bin/sh\n" + script + "\n")
    tool.chmod(0o755)
    return tool


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with neither java nor mvn, and no JAVA_HOME: each test adds what it needs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    return bin_dir


def install_java(bin_dir: Path, version: str) -> None:
    fake_tool(bin_dir, "java", f"echo 'openjdk version \"{version}\" 2025-04-15' >&2")


def test_a_jdk_17_and_maven_make_apache_kafka_the_default(bare_path: Path, tmp_path: Path) -> None:
    install_java(bare_path, "17.0.15")
    fake_tool(bare_path, "mvn", "exit 0")
    choice = choose_broker(None, tmp_path / "libs")
    assert (choice.kind, choice.automatic) == ("apache", True)
    assert "JDK 17+ is present" in choice.reason and "DEV_KAFKA=tansu" in choice.reason


def test_jars_already_downloaded_need_no_maven(bare_path: Path, tmp_path: Path) -> None:
    install_java(bare_path, "21.0.2")
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / MARKER).write_text(kafka_version() + "\n")
    assert choose_broker("auto", libs).kind == "apache"
    assert choose_broker("auto", tmp_path / "empty-libs").kind == "tansu"  # no mvn to fetch them


def test_java_from_java_home_counts(bare_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_java(tmp_path / "jdk" / "bin", "17")
    fake_tool(bare_path, "mvn", "exit 0")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert choose_broker(None, tmp_path / "libs").kind == "apache"


@pytest.mark.parametrize(
    ("java_version", "why"),
    [(None, "no `java` on PATH"), ("11.0.22", "Java 11"), ("1.8.0_392", "Java 8"), ("", "no version")],
    ids=["no-java", "java-11", "java-8", "unreadable"],
)
def test_without_a_jdk_17_the_default_is_tansu_and_says_why(
    bare_path: Path, tmp_path: Path, java_version: str | None, why: str
) -> None:
    fake_tool(bare_path, "mvn", "exit 0")
    if java_version == "":
        fake_tool(bare_path, "java", "echo 'something else' >&2")
    elif java_version is not None:
        install_java(bare_path, java_version)
    choice = choose_broker(None, tmp_path / "libs")
    assert (choice.kind, choice.automatic) == ("tansu", True)
    assert why in choice.reason and "install a JDK 17+" in choice.reason


@pytest.mark.parametrize("requested", ["tansu", "apache", "none"])
def test_an_explicit_dev_kafka_wins_whatever_java_is_here(
    bare_path: Path, tmp_path: Path, requested: str
) -> None:
    install_java(bare_path, "17.0.15")
    fake_tool(bare_path, "mvn", "exit 0")
    with_jdk = choose_broker(requested, tmp_path / "libs")
    (bare_path / "java").unlink()
    without_jdk = choose_broker(requested, tmp_path / "libs")
    for choice in (with_jdk, without_jdk):
        assert (choice.kind, choice.reason, choice.automatic) == (requested, f"DEV_KAFKA={requested}", False)


def test_an_unknown_dev_kafka_is_refused() -> None:
    with pytest.raises(ValueError, match="expected auto, tansu, apache or none"):
        choose_broker("kafka")


def test_only_a_dev_kafka_someone_set_counts_as_a_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEV_KAFKA", raising=False)
    assert requested_kafka(Settings()) is None  # the setting's default leaves the choice to us
    assert requested_kafka(Settings(dev_kafka="tansu")) == "tansu"
    monkeypatch.setenv("DEV_KAFKA", "apache")
    assert requested_kafka(Settings()) == "apache"
