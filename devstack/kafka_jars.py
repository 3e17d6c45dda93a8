"""Apache Kafka's jars and the Java that runs them: the broker's classpath comes from Maven Central
through our pom (devstack/kafka_pom.xml), copied once into a shared directory."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from dnsorch.settings import PROJECT_ROOT

log = logging.getLogger("dnsorch.dev.kafka")

KAFKA_POM = Path(__file__).with_name("kafka_pom.xml")
DEFAULT_LIBS_DIR = PROJECT_ROOT / ".dnsorch" / "kafka" / "libs"
MARKER = ".complete"
INSTALL_HINT = (
    "install a JDK 17+ and Maven: `apt-get install openjdk-17-jre-headless maven` (Debian/Ubuntu) "
    "or `brew install openjdk@17 maven` (macOS)"
)


def kafka_version(pom: Path = KAFKA_POM) -> str:
    """The `kafka.version` property of our pom."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)  # noqa: S314 (our own file)
    if node is None or not node.text:
        raise RuntimeError(f"{pom} has no <kafka.version> property")
    return node.text.strip()


def find_java() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def java_major(java: str) -> int | None:
    """The major version `java -version` reports (8 for 1.8), or None when it reports none we can read."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def jars_ready(libs_dir: Path, pom: Path = KAFKA_POM) -> bool:
    marker = libs_dir / MARKER
    return marker.exists() and marker.read_text().strip() == kafka_version(pom)


def java_and_maven_available(libs_dir: Path | None = None) -> str | None:
    """Why Apache Kafka cannot run here (with the install hint), or None when it can.

    Maven is needed only to download the jars: with `libs_dir` already complete, Java suffices.
    """
    java = find_java()
    if java is None:
        return f"`java` is not on PATH (nor in $JAVA_HOME); {INSTALL_HINT}"
    major = java_major(java)
    if major is not None and major < 17:
        return f"Kafka {kafka_version()} needs Java 17 or newer, {java} is Java {major}; {INSTALL_HINT}"
    if (libs_dir is None or not jars_ready(libs_dir)) and shutil.which("mvn") is None:
        return f"`mvn` is not on PATH (needed once, to download the Kafka jars); {INSTALL_HINT}"
    return None


def ensure_kafka_jars(libs_dir: Path = DEFAULT_LIBS_DIR, pom: Path = KAFKA_POM) -> Path:
    """Copy the broker's classpath into `libs_dir` unless a complete copy of this version is there.

    A marker written after a complete copy records the version; a file lock lets parallel test
    runs and the dev stack share one directory. Maven's own cache (~/.m2) makes a re-copy offline.
    """
    if jars_ready(libs_dir, pom):
        return libs_dir
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError(f"`mvn` is not on PATH; {INSTALL_HINT}")
    libs_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(libs_dir.parent / f".{libs_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if jars_ready(libs_dir, pom):
            return libs_dir
        version = kafka_version(pom)
        log.info("downloading Apache Kafka %s jars from Maven Central into %s", version, libs_dir)
        with tempfile.TemporaryDirectory(dir=libs_dir.parent, prefix=".kafka-libs-") as tmp:
            work = Path(tmp)
            shutil.copy(pom, work / "pom.xml")  # Maven may write next to the pom; keep the source tree clean
            cmd = [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(work / "pom.xml")]
            cmd += [
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={work / 'libs'}",
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if result.returncode != 0:
                raise RuntimeError(f"mvn could not fetch the Kafka jars:\n{result.stdout}{result.stderr}")
            shutil.rmtree(libs_dir, ignore_errors=True)
            (work / "libs").rename(libs_dir)
        (libs_dir / MARKER).write_text(version + "\n")
    return libs_dir
