"""Adopting a zone of N record sets on a real BIND and PostgreSQL of its own: `make bench-adopt`.

Loads N record sets by hand (TSIG-signed UPDATEs of 250 record sets each: A, AAAA, TXT with spaces,
MX, SRV, CNAME in turn), then times the three steps of `dnsorch zones adopt` apart: the AXFR, the
plan against PostgreSQL, and the write (one transaction). Then adopts again, which must add nothing.
Figures from one run on the same machine compare; across runs they are noise.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path

import dns.name
import dns.query
import dns.rcode
import dns.update

from devstack.bind import BindServer, ensure_tsig_key
from devstack.postgres import LocalPostgres
from dnsorch import migrate
from dnsorch.dns import read_zone, tsig_key
from dnsorch.settings import Settings
from dnsorch.store import hold_records, make_engine
from dnsorch.zones import adoption

ZONE = "adopt-bench.test"
KINDS = [  # {i}: the record's number; {t}: a host with an address (MX, SRV and CNAME targets)
    ("A", "192.0.2.{a}"),
    ("AAAA", "2001:db8::{i:x}"),
    ("TXT", '"record {i} of the bench, with spaces"'),
    ("MX", "10 h{t}"),
    ("SRV", "10 5 {port} h{t}"),
    ("CNAME", "h{t}"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="record sets in the zone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-adopt-") as tmp:
        work = Path(tmp)
        key_file = work / "bind" / "tsig.key"
        ensure_tsig_key(key_file)
        bind = BindServer(work / "bind", [ZONE], free_port(), key_file, check_integrity=False)
        postgres = LocalPostgres(work / "pg", port=free_port())
        bind.start()
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
            load(bind, key_file, args.n)
            engine = make_engine(settings.database_url)
            began = time.perf_counter()
            served = read_zone(settings, ZONE)
            transferred = time.perf_counter()
            with engine.begin() as conn:
                hold_records(conn)
                plan = adoption.classify(conn, settings, served, "acct-bench")
                planned = time.perf_counter()
                result = adoption.write(conn, plan, "bench")
            written = time.perf_counter()
            again = adoption.adopt_zone(engine, settings, ZONE, "acct-bench", "bench")
            engine.dispose()
        finally:
            postgres.stop()
            bind.stop()
    print(f"zone {ZONE}: {args.n} record sets loaded; plan {plan.counts}")
    print(f"AXFR  {transferred - began:7.3f} s")
    print(f"plan  {planned - transferred:7.3f} s")
    print(f"write {written - planned:7.3f} s  ({result.adopted} record sets adopted, one transaction)")
    print(f"total {written - began:7.3f} s; adopting again added {again.adopted}")


if __name__ == "__main__":
    main()
