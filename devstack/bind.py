"""A real BIND9 primary for the dev stack and the tests: TSIG key, config, zones, process.

The playbook talks to a genuine `named` rather than a fake, so TSIG, journals, REFUSED
and SERVFAIL behave exactly as they will against the operator's servers.
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
from typing import IO, TYPE_CHECKING

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

if TYPE_CHECKING:
    from dnsorch.settings import Settings

_INSTALL_HINT = "apt-get update && apt-get install -y bind9 bind9-utils bind9-dnsutils"
_KEY_NAME = re.compile(r'^\s*key\s+"?([A-Za-z0-9._-]+)"?\s*\{', re.MULTILINE)
_ZONE_NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


def named_install_hint() -> str:
    """The one command that installs what this module needs on Debian/Ubuntu."""
    return _INSTALL_HINT


def _find_sbin(tool: str) -> str | None:
    """Debian puts BIND's tools in /usr/sbin, which is not on a non-root user's PATH."""
    found = shutil.which(tool)
    if found:
        return found
    candidate = Path("/usr/sbin") / tool
    return str(candidate) if os.access(candidate, os.X_OK) else None


def find_named() -> str | None:
    """Path of the `named` binary, or None when BIND is not installed."""
    return _find_sbin("named")


def ensure_tsig_key(path: Path, key_name: str = "dnsorch-key") -> None:
    """Create a TSIG key file readable by its owner only; keep a key that already exists.

    Keeping the key matters: the dev stack's BIND, the worker and any operator tooling all
    read the same file, and a silent rotation would make every update fail with BADSIG.
    """
    if path.exists():
        return
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
        path.parent.chmod(0o700)  # mkdir's mode is filtered through the umask
    keygen = _find_sbin("tsig-keygen")
    if keygen is None:
        raise RuntimeError(f"tsig-keygen not found; install BIND: {_INSTALL_HINT}")
    output = subprocess.run([keygen, "-a", "hmac-sha256", key_name], check=True, capture_output=True).stdout
    # Write a private temp file, then link it into place: the key is never world-readable,
    # never half-written, and a key created concurrently by someone else wins.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(output)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_key_name(key_file: Path) -> str:
    """The key's name as written in the file (`key "NAME" { ... };`)."""
    match = _KEY_NAME.search(key_file.read_text())
    if match is None:
        raise ValueError(f"{key_file} does not contain a BIND key statement")
    return match.group(1)


class BindServer:
    """One `named` process serving `zones` as primary, updatable with the TSIG key.

    Zone files are written only once: later changes live in BIND's journal, so a restart
    of the dev stack keeps every record provisioned so far.

    `check_integrity` keeps BIND's default (on), as production servers have it: an update
    adding an MX or SRV whose target is inside the zone but has no A/AAAA is REFUSED.
    """

    def __init__(
        self,
        workdir: Path,
        zones: list[str],
        port: int,
        key_file: Path,
        host: str = "127.0.0.1",
        *,
        check_integrity: bool = True,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.zones = [zone.strip().rstrip(".").lower() for zone in zones]
        for zone in self.zones:
            if not _ZONE_NAME.match(zone):
                raise ValueError(f"invalid zone name {zone!r}")
        self.port = port
        self.key_file = Path(key_file).resolve()
        self.host = host
        self.check_integrity = check_integrity
        self.conf_path = self.workdir / "named.conf"
        self.log_path = self.workdir / "named.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> BindServer:
        """The dev stack's server: `<state_dir>/bind`, the configured port, zones and key."""
        return cls(
            workdir=settings.state_dir / "bind",
            zones=settings.dns_zones,
            port=settings.dns_port,
            key_file=settings.tsig_key_path,
            host=settings.dns_server,
        )

    def prepare(self) -> None:
        """Write named.conf (every time) and missing zone files (never overwritten)."""
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        ensure_tsig_key(self.key_file)
        key_name = read_key_name(self.key_file)
        self.conf_path.write_text(self._named_conf(key_name))
        for zone in self.zones:
            zone_file = self.workdir / f"{zone}.zone"
            if not zone_file.exists():
                zone_file.write_text(_zone_file(zone))

    def _named_conf(self, key_name: str) -> str:
        d = self.workdir
        lines = [
            "options {",
            f'    directory "{d}";',
            f'    pid-file "{d}/named.pid";',
            f'    session-keyfile "{d}/session.key";',
            f"    listen-on port {self.port} {{ {self.host}; }};",
            "    listen-on-v6 { none; };",
            "    recursion no;",
            "};",
            "controls { };",
            f'include "{self.key_file}";',
        ]
        for zone in self.zones:
            lines += [
                f'zone "{zone}" {{',
                "    type primary;",
                f'    file "{zone}.zone";',
                f"    update-policy {{ grant {key_name} zonesub ANY; }};",
                *([] if self.check_integrity else ["    check-integrity no;"]),
                "};",
            ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 15.0) -> None:
        """Start `named` in the foreground (as a child) and wait until every zone answers."""
        if self.is_running():
            return
        named = find_named()
        if named is None:
            raise RuntimeError(f"BIND9 `named` not found; install it: {_INSTALL_HINT}")
        self.prepare()
        self._stop_stale()
        # named binds with SO_REUSEPORT, so a second named on a busy port starts "fine" and
        # the first one answers our readiness queries: refuse a busy port up front.
        if not _port_free(self.host, self.port):
            raise RuntimeError(
                f"{self.host}:{self.port} is already in use (another named, or a dev stack still running?)"
            )
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [named, "-g", "-c", str(self.conf_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C in a terminal reaches the dev stack, which stops BIND
            # last, after the worker has finished its in-flight playbooks.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        pending = list(self.zones)
        while pending:
            if self._process.poll() is not None:
                self._fail(f"named exited with code {self._process.returncode}")
            if time.monotonic() > deadline:
                self._fail(f"named did not serve {', '.join(pending)} within {timeout:.0f}s")
            if self._serves_soa(pending[0]):
                pending.pop(0)
            else:
                time.sleep(0.1)

    def _stop_stale(self) -> None:
        """Stop a named left running on this config by a dev stack that crashed."""
        try:
            pid = int((self.workdir / "named.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"named" not in cmdline or str(self.conf_path).encode() not in cmdline:
            return  # a recycled pid, or not ours
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 2.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if _wait_gone(pid, grace):
                return

    def _serves_soa(self, zone: str) -> bool:
        query = dns.message.make_query(zone + ".", dns.rdatatype.SOA)
        query.flags &= ~dns.flags.RD
        try:
            response = dns.query.udp(query, self.host, port=self.port, timeout=0.5)
        except (dns.exception.DNSException, OSError):
            return False
        return response.rcode() == dns.rcode.NOERROR and bool(response.answer)

    def _fail(self, reason: str) -> None:
        self.stop()
        raise RuntimeError(f"{reason}; last lines of {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """The end of named's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if named has not exited within `timeout` seconds."""
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

    def __enter__(self) -> BindServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _zone_file(zone: str) -> str:
    """A minimal zone: SOA, one NS and the NS's address; records arrive by dynamic update."""
    return (
        "$TTL 300\n"
        f"@\tIN\tSOA\tns1.{zone}. hostmaster.{zone}. ( 1 3600 600 86400 300 )\n"
        f"@\tIN\tNS\tns1.{zone}.\n"
        "ns1\tIN\tA\t127.0.0.1\n"
    )


def _port_free(host: str, port: int) -> bool:
    """True when both TCP and UDP `port` can be bound on `host` (named needs both)."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            if kind == socket.SOCK_STREAM:  # a TIME_WAIT leftover is not a listener
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
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
