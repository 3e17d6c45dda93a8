"""A real BIND9 primary for the dev stack and the tests: config, zones, NOTIFY to its secondaries.

The playbook talks to a genuine `named` rather than a fake, so TSIG, journals, REFUSED
and SERVFAIL behave exactly as they will against the operator's servers.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update

from devstack.dns_servers import DnsServerProcess, find_sbin, zone_file
from devstack.tsig import read_key_name, read_tsig_key, write_private

if TYPE_CHECKING:
    from dnsorch.settings import Settings

__all__ = ["BindServer", "ensure_tsig_key", "find_named", "named_install_hint"]

_INSTALL_HINT = "apt-get update && apt-get install -y bind9 bind9-utils bind9-dnsutils"


def named_install_hint() -> str:
    """The one command that installs what this module needs on Debian/Ubuntu."""
    return _INSTALL_HINT


def find_named() -> str | None:
    """Path of the `named` binary, or None when BIND is not installed."""
    return find_sbin("named")


def ensure_tsig_key(path: Path, key_name: str = "dnsorch-key") -> None:
    """Create a TSIG key file readable by its owner only; keep a key that already exists.

    Keeping the key matters: the dev stack's servers, the worker and any operator tooling all
    read the same file, and a silent rotation would make every update fail with BADSIG.
    """
    if path.exists():
        return
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
        path.parent.chmod(0o700)  # mkdir's mode is filtered through the umask
    keygen = find_sbin("tsig-keygen")
    if keygen is None:
        raise RuntimeError(f"tsig-keygen not found; install BIND: {_INSTALL_HINT}")
    output = subprocess.run([keygen, "-a", "hmac-sha256", key_name], check=True, capture_output=True).stdout
    # Write a private temp file, then link it into place: the key is never world-readable,
    # never half-written, and a key created concurrently by someone else wins.
    write_private(path, output, exclusive=True)


class BindServer(DnsServerProcess):
    """One `named` process serving `zones` as primary, updatable with the TSIG key.

    Zone files are written only once: later changes live in BIND's journal, so a restart
    of the dev stack keeps every record provisioned so far.

    `secondaries` are the addresses of the secondaries (on the same port: an NS record has no
    port). Each zone's NS RRset names the primary (ns1) and them (ns2, …); BIND sends them a
    TSIG-signed NOTIFY on every change and lets the key, and only the key, transfer the zone
    (the secondaries and operators' tools AXFR with it).

    `check_integrity` keeps BIND's default (on), as production servers have it: an update
    adding an MX or SRV whose target is inside the zone but has no A/AAAA is REFUSED.
    """

    label = "named"
    conf_name = "named.conf"
    log_name = "named.log"
    pid_file_name = "named.pid"

    def __init__(
        self,
        workdir: Path,
        zones: list[str],
        port: int,
        key_file: Path,
        host: str = "127.0.0.1",
        *,
        check_integrity: bool = True,
        secondaries: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir, zones, port, key_file, host)
        self.check_integrity = check_integrity
        self.secondaries = list(secondaries)

    @classmethod
    def from_settings(cls, settings: Settings, secondaries: Sequence[str] = ()) -> BindServer:
        """The dev stack's server: `<state_dir>/bind`, the configured port, zones and key."""
        return cls(
            workdir=settings.state_dir / "bind",
            zones=settings.dns_zones,
            port=settings.dns_port,
            key_file=settings.tsig_key_path,
            host=settings.dns_server,
            secondaries=secondaries,
        )

    @property
    def nameservers(self) -> list[str]:
        """Every server's address, primary first: ns1, ns2, … in each zone."""
        return [self.host, *self.secondaries]

    def prepare(self) -> None:
        """Write named.conf (every time) and missing zone files (never overwritten)."""
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        ensure_tsig_key(self.key_file)
        key_name = read_key_name(self.key_file)
        self.conf_path.write_text(self._named_conf(key_name))
        for zone in self.zones:
            path = self.workdir / f"{zone}.zone"
            if not path.exists():
                path.write_text(zone_file(zone, self.nameservers))

    def command(self) -> list[str]:
        named = find_named()
        if named is None:
            raise RuntimeError(f"BIND9 `named` not found; install it: {_INSTALL_HINT}")
        return [named, "-g", "-c", str(self.conf_path)]

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
        # `explicit`: the NS names' addresses are on port 53, where nothing of ours listens.
        notify = (
            [
                "    notify explicit;",
                "    notify-delay 0;",  # BIND's default 5 s gathers changes; on one box it only adds latency
                "    also-notify { "
                + " ".join(f'{address} port {self.port} key "{key_name}";' for address in self.secondaries)
                + " };",
            ]
            if self.secondaries
            else ["    notify no;"]
        )
        for zone in self.zones:
            lines += [
                f'zone "{zone}" {{',
                "    type primary;",
                f'    file "{zone}.zone";',
                f"    update-policy {{ grant {key_name} zonesub ANY; }};",
                f'    allow-transfer {{ key "{key_name}"; }};',
                *notify,
                *([] if self.check_integrity else ["    check-integrity no;"]),
                "};",
            ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 15.0) -> None:
        """Start `named` and wait until every zone answers; then make each NS RRset name every server."""
        if self.is_running():
            return
        super().start(timeout)
        for zone in self.zones:
            self._ensure_nameservers(zone)

    def _ensure_nameservers(self, zone: str) -> None:
        """A zone file written before the secondaries existed (the journal keeps it) gets their NS and glue.

        Sent as a TSIG update, only when the served NS RRset or glue differs, so most starts change nothing.
        An apex NS RRset is never deleted whole (RFC 2136 §3.4.2.3): extra names are removed one by one.
        """
        origin = dns.name.from_text(zone)
        wanted = {dns.name.from_text(f"ns{i}", origin): a for i, a in enumerate(self.nameservers, 1)}
        wanted_names = {name.to_text() for name in wanted}
        served = set(self._lookup(origin, dns.rdatatype.NS))
        glue_ok = all(self._lookup(name, dns.rdatatype.A) == [a] for name, a in wanted.items())
        if served == wanted_names and glue_ok:
            return
        key = read_tsig_key(self.key_file)
        keyring = dns.tsig.Key(key.name, key.secret, key.algorithm)
        update = dns.update.UpdateMessage(origin, keyring=keyring)
        for name, address in wanted.items():
            update.replace(name, 300, dns.rdatatype.A, address)
            update.add(origin, 300, dns.rdatatype.NS, name.to_text())
        for extra in served - wanted_names:
            update.delete(origin, dns.rdatatype.NS, extra)
        response = dns.query.tcp(update, self.host, port=self.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            rcode = dns.rcode.to_text(response.rcode())
            raise RuntimeError(f"named refused to set the NS RRset of {zone}: {rcode}")

    def _lookup(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> list[str]:
        query = dns.message.make_query(name, rdtype)
        try:
            response = dns.query.udp(query, self.host, port=self.port, timeout=2)
        except (dns.exception.DNSException, OSError):
            return []
        answer = response.get_rrset(response.answer, name, dns.rdataclass.IN, rdtype)
        return sorted(rdata.to_text() for rdata in answer) if answer is not None else []
