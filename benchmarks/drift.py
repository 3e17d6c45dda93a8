"""A drift scan of a zone of N record sets on servers of its own: `make bench-drift`.

Starts BIND (and, where knotd is installed, its Knot DNS secondary: the zone's NS RRset names both)
and PostgreSQL, loads N record sets by TSIG-signed UPDATE (benchmarks/bench_zone.py's mix: A, AAAA,
TXT, MX, SRV, CNAME), records them in `dns_records` by adopting the zone, then changes some behind dnsorch's
back (values changed, record sets deleted, unmanaged ones added) and times the scan activity: every
server read by one AXFR and compared in memory. The same scan is timed again with transfers refused
(a key file the scan cannot read), where each server is asked record set by record set.
Figures from one run on the same machine compare; across runs they are noise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

import dns.name
import dns.query
import dns.rcode
import dns.update
from temporalio.testing import ActivityEnvironment

from activities.drift import SETTLE, DriftActivities
from benchmarks.bench_zone import ZONE, zone_on_servers
from devstack.bind import BindServer
from devstack.knot import find_knotd
from dnsorch.contracts import ZoneScan, ZoneScanInput
from dnsorch.dns import tsig_key
from dnsorch.settings import Settings
from dnsorch.store import make_engine
from dnsorch.temporal import ProvisioningGateway
from dnsorch.zones import adoption

CHANGED, DELETED, ADDED = 10, 5, 5
"""Record sets changed and deleted behind dnsorch's back, and unmanaged ones added."""


def drift_by_hand(bind: BindServer, key_file: Path) -> None:
    """Change, delete and add record sets with one TSIG-signed UPDATE, as an operator's nsupdate would."""
    origin = dns.name.from_text(ZONE)
    update = dns.update.UpdateMessage(origin, keyring=tsig_key(key_file))
    for i in range(CHANGED):  # h0… are A records (benchmarks.bench_zone.load)
        update.replace(dns.name.from_text(f"h{i}", origin), 300, "A", "198.51.100.1")
    for i in range(CHANGED, CHANGED + DELETED):
        update.delete(dns.name.from_text(f"h{i}", origin), "A")
    for i in range(ADDED):
        update.add(dns.name.from_text(f"hand{i}", origin), 60, "TXT", f'"added by hand {i}"')
    response = dns.query.tcp(update, bind.host, port=bind.port, timeout=30)
    if response.rcode() != dns.rcode.NOERROR:
        raise SystemExit(f"drift by hand refused: {dns.rcode.to_text(response.rcode())}")


def timed_scans(settings: Settings, engine, runs: int) -> tuple[list[float], ZoneScan]:  # type: ignore[no-untyped-def]
    scanner = DriftActivities(engine, settings, ProvisioningGateway(None, "bench"))  # type: ignore[arg-type]
    seconds, found = [], ZoneScan(ZONE)
    for _ in range(runs):
        began = time.perf_counter()
        found = asyncio.run(ActivityEnvironment().run(scanner.scan_zone, ZoneScanInput(ZONE)))
        seconds.append(time.perf_counter() - began)
    return seconds, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="record sets in the zone")
    parser.add_argument("--runs", type=int, default=3, help="scans timed each way")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the scan logs each drifted record set; the figures matter here
    knot = find_knotd() is not None
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        work = Path(tmp)
        with zone_on_servers(work, args.n, knot=knot) as bench:
            bind, settings, secondary = bench.bind, bench.settings, bench.secondary
            engine = make_engine(settings.database_url)
            adopted = adoption.adopt_zone(engine, settings, ZONE, "acct-bench", "bench").adopted
            time.sleep(SETTLE.total_seconds())  # the scan leaves record sets provisioned this recently alone
            drift_by_hand(bind, bench.key_file)
            if secondary is not None:
                serial = bind.serial(ZONE)
                assert serial is not None
                secondary.wait_serial(ZONE, serial, 30)
            axfr, found = timed_scans(settings, engine, args.runs)
            refused = settings.model_copy(update={"tsig_key_file": work / "no-such.key"})
            queried, asked = timed_scans(refused, engine, args.runs)
            engine.dispose()
    print(f"zone {ZONE}: {args.n} record sets loaded, {adopted} recorded in dns_records (adopted)")
    print(f"servers: {', '.join(found.servers)}")
    print(f"found: {found.drifted_count} drifted, {found.unmanaged_count} unmanaged ({CHANGED} changed,")
    print(f"       {DELETED} deleted and {ADDED} added by hand)")
    print(f"scan, AXFR from each server:    median {statistics.median(axfr):6.3f} s  ({_all(axfr)})")
    print(f"scan, asked record set by set:  median {statistics.median(queried):6.3f} s  ({_all(queried)}),")
    print(f"       {asked.drifted_count} drifted found that way")


def _all(seconds: list[float]) -> str:
    return ", ".join(f"{s:.3f}" for s in seconds)


if __name__ == "__main__":
    main()
