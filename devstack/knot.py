"""Knot DNS for the dev stack and the tests: BIND's secondary, or a primary of its own for interop tests.

A second implementation makes interoperability something tested rather than assumed: as a
secondary, Knot takes each zone from BIND by NOTIFY and IXFR/AXFR signed with the dev stack's
TSIG key; as a primary (`primary=True`) it takes the same RFC 2136 updates BIND takes, so the
apply path is tested against both.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from devstack.dns_servers import DnsServerProcess, find_sbin, zone_file
from devstack.tsig import read_tsig_key, write_private

SECONDARY_HOST = "127.0.0.2"
"""Where the dev stack's secondary listens: BIND's port on the next loopback address (ns2)."""
_INSTALL_HINT = "apt-get update && apt-get install -y knot knot-dnsutils"


def knot_install_hint() -> str:
    """The one command that installs Knot DNS on Debian/Ubuntu."""
    return _INSTALL_HINT


def find_knotd() -> str | None:
    """Path of the `knotd` binary, or None when Knot DNS is not installed."""
    return find_sbin("knotd")


class KnotServer(DnsServerProcess):
    """One `knotd` serving `zones`, as a secondary of `primary_host` (same port) or as a primary.

    Everything it keeps (config, zone files, journal, timers, pid file and control socket) is
    under `workdir`, and it runs as the invoking user in the foreground. The config holds the
    TSIG secret, so it is written 0600 on every start from the key file; it is never logged.

    As a secondary it accepts a NOTIFY from the primary signed with the key and transfers with
    the key; zone data survives a restart (journal and zone file). A restarted Knot keeps its
    refresh timer (the SOA's 3600 s) and the NOTIFYs sent while it was down are lost, so `start`
    asks it to check the primary's serial at once (`knotc zone-refresh`), as an operator would
    after maintenance: it catches up on what it missed. As a primary it
    serves the zone file written on first start and accepts updates and transfers signed with
    the key, and nothing else.
    """

    label = "knotd"
    conf_name = "knot.conf"
    log_name = "knot.log"
    pid_file_name = "run/knot.pid"

    def __init__(
        self,
        workdir: Path,
        zones: list[str],
        port: int,
        key_file: Path,
        host: str = SECONDARY_HOST,
        *,
        primary_host: str = "127.0.0.1",
        primary: bool = False,
    ) -> None:
        super().__init__(workdir, zones, port, key_file, host)
        self.primary_host = primary_host
        self.primary = primary

    def prepare(self) -> None:
        """Write knot.conf (0600, every time) and, for a primary, missing zone files."""
        for sub in ("", "run", "db", "zones"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(self.conf_path, self._knot_conf().encode())
        if self.primary:
            for zone in self.zones:
                path = self.workdir / "zones" / f"{zone}.zone"
                if not path.exists():
                    path.write_text(zone_file(zone, [self.host]))

    def start(self, timeout: float = 15.0) -> None:
        """Start knotd, wait until it serves every zone; a secondary then checks the primary's serial."""
        if self.is_running():
            return
        super().start(timeout)
        if not self.primary:
            self._control("zone-refresh")

    def freeze(self, zone: str) -> None:
        """Stop taking changes to `zone` (NOTIFY and transfers wait) while still serving it: a
        secondary that lags behind its primary, for the tests of verification and rollback."""
        self._control("zone-freeze", zone)

    def thaw(self, zone: str) -> None:
        """Take changes again, and ask the primary for what was missed at once."""
        self._control("zone-thaw", zone)
        self._control("zone-refresh", zone)

    def _control(self, *args: str) -> None:
        knotc = find_sbin("knotc")
        if knotc is None:
            raise RuntimeError(f"Knot DNS `knotc` not found; install it: {_INSTALL_HINT}")
        result = subprocess.run(
            [knotc, "-c", str(self.conf_path), *args], capture_output=True, text=True, timeout=10, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"knotc {' '.join(args)} failed: {result.stdout}{result.stderr}")

    def command(self) -> list[str]:
        knotd = find_knotd()
        if knotd is None:
            raise RuntimeError(f"Knot DNS `knotd` not found; install it: {_INSTALL_HINT}")
        return [knotd, "-c", str(self.conf_path)]

    def _knot_conf(self) -> str:
        key = read_tsig_key(self.key_file)
        d = self.workdir
        lines = [
            "server:",
            f'    rundir: "{d}/run"',
            f"    listen: {self.host}@{self.port}",
            # A dev box: a few threads are plenty, and Knot's default is one per core per kind.
            "    udp-workers: 1",
            "    tcp-workers: 1",
            "    background-workers: 1",
            "log:",
            "  - target: stderr",
            "    any: info",
            "database:",
            f'    storage: "{d}/db"',
            "key:",
            f"  - id: {key.name}",
            f"    algorithm: {key.algorithm}",
            f"    secret: {key.secret}",
            "acl:",
            "  - id: transfer-with-key",
            f"    key: {key.name}",
            "    action: transfer",
        ]
        if self.primary:
            lines += ["  - id: update-with-key", f"    key: {key.name}", "    action: update"]
            zone_options = ["    acl: [update-with-key, transfer-with-key]"]
        else:
            lines += [
                "  - id: notify-from-primary",
                f"    address: {self.primary_host}",
                f"    key: {key.name}",
                "    action: notify",
                "remote:",
                "  - id: primary",
                f"    address: {self.primary_host}@{self.port}",
                f"    key: {key.name}",
            ]
            zone_options = ["    master: primary", "    acl: [notify-from-primary, transfer-with-key]"]
        lines += ["template:", "  - id: default", f'    storage: "{d}/zones"', '    file: "%s.zone"', "zone:"]
        for zone in self.zones:
            lines += [f"  - domain: {zone}", *zone_options]
        return "\n".join(lines) + "\n"
