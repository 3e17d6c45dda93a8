"""What the dev stack's DNS servers share: the zone they start from and one supervised process.

BIND (the primary, `devstack/bind.py`) and Knot DNS (the secondary, or a second primary in the
interoperability tests, `devstack/knot.py`) start from the same zone and read the same key file
(`devstack/tsig.py`), so each of them is a small subclass of `DnsServerProcess`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Self

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

_ZONE_NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


def find_sbin(tool: str) -> str | None:
    """Debian puts the servers' tools in /usr/sbin, which is not on a non-root user's PATH."""
    found = shutil.which(tool)
    if found:
        return found
    candidate = Path("/usr/sbin") / tool
    return str(candidate) if os.access(candidate, os.X_OK) else None


def check_zone_names(zones: list[str]) -> list[str]:
    names = [zone.strip().rstrip(".").lower() for zone in zones]
    for zone in names:
        if not _ZONE_NAME.match(zone):
            raise ValueError(f"invalid zone name {zone!r}")
    return names


def zone_file(zone: str, nameservers: list[str]) -> str:
    """A minimal zone: SOA, one NS per server (ns1 the primary, ns2… the secondaries) and their glue.

    NS records carry no port, so every server listens on the same port, each on its own address.
    """
    lines = [
        "$TTL 300",
        f"@\tIN\tSOA\tns1.{zone}. hostmaster.{zone}. ( 1 3600 600 86400 300 )",
        *(f"@\tIN\tNS\tns{i}.{zone}." for i in range(1, len(nameservers) + 1)),
        *(f"ns{i}\tIN\tA\t{address}" for i, address in enumerate(nameservers, 1)),
    ]
    return "\n".join(lines) + "\n"


def soa_serial(host: str, port: int, zone: str, timeout: float = 0.5) -> int | None:
    """The serial `host` serves for `zone` with authority (AA set), or None."""
    query = dns.message.make_query(zone + ".", dns.rdatatype.SOA)
    query.flags &= ~dns.flags.RD
    try:
        response = dns.query.udp(query, host, port=port, timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return None
    if response.rcode() != dns.rcode.NOERROR or not response.flags & dns.flags.AA:
        return None
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(rrset[0].serial)
    return None


def port_free(host: str, port: int) -> bool:
    """True when both TCP and UDP `port` can be bound on `host` (DNS servers need both)."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            if kind == socket.SOCK_STREAM:  # a TIME_WAIT leftover is not a listener
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until `pid` has exited (a zombie counts: its sockets are already closed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


class DnsServerProcess:
    """One DNS server in the foreground as our child, in its own session, serving `zones`.

    Its own session: Ctrl-C in a terminal reaches the dev stack, which stops the servers last,
    after the worker has finished its in-flight playbooks. Subclasses write the config
    (`prepare`) and name the command line (`command`).
    """

    label = "DNS server"
    pid_file_name = "server.pid"
    conf_name = "server.conf"
    log_name = "server.log"

    def __init__(self, workdir: Path, zones: list[str], port: int, key_file: Path, host: str) -> None:
        self.workdir = Path(workdir).resolve()
        self.zones = check_zone_names(zones)
        self.port = port
        self.key_file = Path(key_file).resolve()
        self.host = host
        self.conf_path = self.workdir / self.conf_name
        self.log_path = self.workdir / self.log_name
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def prepare(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and wait until it serves every zone with authority."""
        if self.is_running():
            return
        self.prepare()
        argv = self.command()
        self._stop_stale(Path(argv[0]).name)
        # BIND binds with SO_REUSEPORT, so a second server on a busy port starts "fine" and the
        # first one answers our readiness queries: refuse a busy port up front.
        if not port_free(self.host, self.port):
            raise RuntimeError(
                f"{self.host}:{self.port} is already in use (another server, or a dev stack still running?)"
            )
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        pending = list(self.zones)
        while pending:
            if self._process.poll() is not None:
                self._fail(f"{self.label} exited with code {self._process.returncode}")
            if time.monotonic() > deadline:
                self._fail(f"{self.label} did not serve {', '.join(pending)} within {timeout:.0f}s")
            if self.serial(pending[0]) is not None:
                pending.pop(0)
            else:
                time.sleep(0.1)

    def serial(self, zone: str) -> int | None:
        """The SOA serial this server answers for `zone` with authority, or None."""
        return soa_serial(self.host, self.port, zone)

    def wait_serial(self, zone: str, serial: int, timeout: float = 10.0) -> float:
        """Wait until the server serves `zone` at `serial` or later (RFC 1982 order); the seconds it took."""
        started = time.monotonic()
        while True:
            served = self.serial(zone)
            if served is not None and (served - serial) % 2**32 < 2**31:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(
                    f"{self.label} on {self.host}:{self.port} serves {zone} at serial {served}, "
                    f"not {serial}, after {timeout:.0f}s; last lines of {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _stop_stale(self, binary: str) -> None:
        """Stop a server left running on this config by a dev stack that crashed."""
        try:
            pid = int((self.workdir / self.pid_file_name).read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if binary.encode() not in cmdline or str(self.conf_path).encode() not in cmdline:
            return  # a recycled pid, or not ours
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 2.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if wait_gone(pid, grace):
                return

    def _fail(self, reason: str) -> None:
        self.stop()
        raise RuntimeError(f"{reason}; last lines of {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if the server has not exited within `timeout` seconds; always reaped."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
