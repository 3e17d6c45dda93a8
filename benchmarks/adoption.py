"""Adopting a zone of N record sets on a real BIND and PostgreSQL of its own: `make bench-adopt`.

Loads N record sets by hand (TSIG-signed UPDATEs of 250 record sets each: A, AAAA, TXT with spaces,
MX, SRV, CNAME in turn), then times the three steps of `dnsorch zones adopt` apart: the AXFR, the
plan against PostgreSQL, and the write (one transaction). Then adopts again, which must add nothing.
Figures from one run on the same machine compare; across runs they are noise.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.bench_zone import ZONE, zone_on_servers
from dnsorch.dns import read_zone
from dnsorch.store import hold_records, make_engine
from dnsorch.zones import adoption


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="record sets in the zone")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-adopt-") as tmp,
        zone_on_servers(Path(tmp), args.n) as bench,
    ):
        settings = bench.settings
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
    print(f"zone {ZONE}: {args.n} record sets loaded; plan {plan.counts}")
    print(f"AXFR  {transferred - began:7.3f} s")
    print(f"plan  {planned - transferred:7.3f} s")
    print(f"write {written - planned:7.3f} s  ({result.adopted} record sets adopted, one transaction)")
    print(f"total {written - began:7.3f} s; adopting again added {again.adopted}")


if __name__ == "__main__":
    main()
