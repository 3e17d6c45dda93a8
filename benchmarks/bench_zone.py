"""A zone of N record sets on servers of its own, for the adoption and drift benchmarks.

BIND (and, when asked, its Knot DNS secondary) and PostgreSQL under one work directory, the schema
migrated, and N record sets loaded by hand: TSIG-signed UPDATEs of 250 record sets each (A, AAAA,
TXT with spaces, MX, SRV, CNAME in turn).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.name
import dns.query
import dns.rcode
import dns.update

from devstack.bind import BindServer, ensure_tsig_key
from devstack.knot import SECONDARY_HOST, KnotServer
from devstack.ports import free_port
from devstack.postgres import LocalPostgres
from dnsorch import migrate
from dnsorch.dns import tsig_key
from dnsorch.settings import Settings

ZONE = "adopt-bench.test"
KINDS = [  # {i}: the record's number; {t}: a host with an address (MX, SRV and CNAME targets)
    ("A", "192.0.2.{a}"),
    ("AAAA", "2001:db8::{i:x}"),
    ("TXT", '"record {i} of the bench, with spaces"'),
    ("MX", "10 h{t}"),
    ("SRV", "10 5 {port} h{t}"),
    ("CNAME", "h{t}"),
]


@dataclass
class BenchZone:
    """The servers started and the settings that point at them."""

    bind: BindServer
    key_file: Path
    settings: Settings
    secondary: KnotServer | None


def load(bind: BindServer, key_file: Path, count: int) -> None:
    """`count` record sets: a third A records at h0…, the rest of every kind in turn, by TSIG UPDATE."""
    origin = dns.name.from_text(ZONE)
    key = tsig_key(key_file)
    hosts = max(1, count // 3)
    entries = []
    for i in range(count):
        rtype, value = KINDS[0] if i < hosts else KINDS[i % len(KINDS)]
        label = f"_s{i}._tcp" if rtype == "SRV" else f"h{i}"
        entries.append((label, rtype, value.format(i=i, a=i % 250 + 1, t=i % hosts, port=1000 + i)))
    for start in range(0, count, 250):
        update = dns.update.UpdateMessage(origin, keyring=key)
        for label, rtype, value in entries[start : start + 250]:
            update.add(dns.name.from_text(label, origin), 300, rtype, value)
        response = dns.query.tcp(update, bind.host, port=bind.port, timeout=30)
        if response.rcode() != dns.rcode.NOERROR:
            raise SystemExit(f"loading refused: {dns.rcode.to_text(response.rcode())}")


@contextlib.contextmanager
def zone_on_servers(work: Path, count: int, *, knot: bool = False) -> Iterator[BenchZone]:
    """Start the servers under `work`, load `count` record sets into ZONE, and stop them on exit."""
    key_file = work / "bind" / "tsig.key"
    ensure_tsig_key(key_file)
    secondaries = (SECONDARY_HOST,) if knot else ()
    port = free_port(also_on=secondaries)
    bind = BindServer(work / "bind", [ZONE], port, key_file, check_integrity=False, secondaries=secondaries)
    secondary = None
    if knot:
        secondary = KnotServer(work / "knot", [ZONE], port, key_file, primary_host=bind.host)
    postgres = LocalPostgres(work / "pg", port=free_port(also_on=()))
    bind.start()
    if secondary is not None:
        secondary.start()
    postgres.start(database="dnsorch")
    try:
        migrate.upgrade(postgres.url("dnsorch"))
        settings = Settings(
            env="test",
            database_url=postgres.url("dnsorch"),
            dns_server=bind.host,
            dns_port=bind.port,
            tsig_key_file=key_file,
            dns_zones=[ZONE],
            state_dir=work / "state",
        )
        load(bind, key_file, count)
        yield BenchZone(bind, key_file, settings, secondary)
    finally:
        postgres.stop()
        if secondary is not None:
            secondary.stop()
        bind.stop()
