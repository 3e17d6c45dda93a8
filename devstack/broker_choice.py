"""Which Kafka broker `dnsorch dev` starts: Apache Kafka where a JDK 17+ can run it, else the embedded Tansu.

Why Apache Kafka first: on Tansu every consumer-group join takes half the member's session timeout,
so a new librdkafka group (45 s default) sees nothing for ≈23 s, and a group whose earlier member
vanished without leaving waits 40 to 90 s (issue 16, item 6). Apache Kafka answers in well under a
second. Tansu stays the fallback: no JVM, ≈25 MB, starts at once.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Literal, NamedTuple

from devstack.kafka_jars import INSTALL_HINT, find_java, jars_ready, java_major
from dnsorch.settings import Settings

DevKafka = Literal["tansu", "apache", "none"]
MIN_JAVA = 17
EXPLICIT: dict[str, DevKafka] = {"tansu": "tansu", "apache": "apache", "none": "none"}


class BrokerChoice(NamedTuple):
    kind: DevKafka
    reason: str
    """Why, in words fit for the startup log ("chosen because …")."""
    automatic: bool
    """True when DEV_KAFKA left the choice to us (unset or `auto`)."""


def requested_kafka(settings: Settings) -> str | None:
    """DEV_KAFKA as the developer set it, or None when left to us (unset or `auto`)."""
    chosen = str(settings.dev_kafka)
    return None if chosen == "auto" else chosen


def apache_kafka_unavailable(libs_dir: Path | None) -> str | None:
    """Why Apache Kafka cannot run here, or None when it can.

    Stricter than `java_and_maven_available`: a `java` whose version we cannot read does not count.
    Maven is needed only while `libs_dir` lacks a complete copy of the jars.
    """
    java = find_java()
    if java is None:
        return "no `java` on PATH (nor in $JAVA_HOME)"
    try:
        major = java_major(java)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`{java} -version` failed ({exc})"
    if major is None:
        return f"`{java} -version` reports no version we can read"
    if major < MIN_JAVA:
        return f"{java} is Java {major}, Apache Kafka needs {MIN_JAVA}+"
    if (libs_dir is None or not jars_ready(libs_dir)) and shutil.which("mvn") is None:
        return "no `mvn` on PATH to download the Kafka jars once"
    return None


def choose_broker(requested: str | None, libs_dir: Path | None = None) -> BrokerChoice:
    """An explicit DEV_KAFKA (tansu, apache, none) wins; unset or `auto`: Apache Kafka where it can run."""
    if requested is not None and requested in EXPLICIT:
        return BrokerChoice(EXPLICIT[requested], f"DEV_KAFKA={requested}", automatic=False)
    if requested not in (None, "", "auto"):
        raise ValueError(f"DEV_KAFKA={requested!r}: expected auto, tansu, apache or none")
    why_not = apache_kafka_unavailable(libs_dir)
    if why_not is None:
        return BrokerChoice(
            "apache",
            f"a JDK {MIN_JAVA}+ is present; DEV_KAFKA=tansu for the light embedded broker",
            automatic=True,
        )
    return BrokerChoice(
        "tansu",
        f"Apache Kafka cannot run here: {why_not}. For Apache Kafka, {INSTALL_HINT}",
        automatic=True,
    )


__all__ = ["BrokerChoice", "DevKafka", "apache_kafka_unavailable", "choose_broker", "requested_kafka"]
