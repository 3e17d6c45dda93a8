"""What the authoritative servers serve, compared with what dnsorch recorded: pure, over two views.

The views are the managed record sets (from PostgreSQL, dnsorch/store/managed_zone.py) and, per
server, the record sets it serves (its zone by AXFR, or only the managed ones asked one by one when
the server refuses the transfer). Values compare as parsed rdata, TTLs exactly. What dnsorch leaves
alone on adoption (SOA, the zone's own NS and glue, delegations, DNSSEC, other types) is left alone
here too, but for the PTRs of reverse zones: dnsorch keeps those of its own A and AAAA records, so a
kept PTR served as recorded is no drift, one changed by hand is, and one nobody keeps is unmanaged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import dns.name
import dns.rdatatype
import dns.zone

from dnsorch.contracts import DriftedRRset, ManagedRecord, ServedBy
from dnsorch.dns.names import name_text
from dnsorch.dns.plan import same_rrset
from dnsorch.dns.zone_contents import skip_reason

CHANGED, MISSING, UNMANAGED = "changed", "missing", "unmanaged"

Key = tuple[dns.name.Name, str]
"""A record set: its owner name (compared as DNS compares names) and its type."""


@dataclass(frozen=True)
class Served:
    values: tuple[str, ...]
    ttl: int | None


@dataclass(frozen=True)
class Recorded:
    """A managed record set: the values dnsorch makes the servers serve, and the row behind them."""

    values: tuple[str, ...]
    record: ManagedRecord


@dataclass
class ServerView:
    """What one server serves. `complete`: its whole zone (AXFR); else only the record sets in `asked`."""

    server: str
    rrsets: dict[Key, Served] = field(default_factory=dict)
    complete: bool = True
    asked: set[Key] = field(default_factory=set)

    def knows(self, key: Key) -> bool:
        return self.complete or key in self.asked


def key(domain: str, record_type: str) -> Key:
    return dns.name.from_text(domain), record_type.upper()


def zone_view(server: str, served: dns.zone.Zone) -> ServerView:
    """A server's whole zone, without what dnsorch never manages (the adoption's skip rules, but for
    the PTRs that dnsorch keeps in reverse zones)."""
    view = ServerView(server)
    for name, node in served.nodes.items():
        for rdataset in node.rdatasets:
            if skip_reason(served, name, rdataset, kept_ptrs=True):
                continue
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            values = tuple(sorted(rdata.to_text() for rdata in rdataset))
            view.rrsets[(name, rtype)] = Served(values, rdataset.ttl)
    return view


def find_drift(
    zone: str, recorded: Mapping[Key, Recorded], views: Iterable[ServerView]
) -> tuple[list[DriftedRRset], list[DriftedRRset]]:
    """(drifted managed record sets, unmanaged record sets), each sorted by name and type.

    A managed record set drifts when a server that could be asked serves other values, another TTL
    or nothing: `missing` when every server that differs serves nothing, else `changed`. A record
    set served by any server read whole but managed by nobody is `unmanaged`.
    """
    views = list(views)
    drifted: list[DriftedRRset] = []
    for (name, rtype), want in sorted(recorded.items(), key=_order):
        differing = [
            _served_by(view, (name, rtype))
            for view in views
            if view.knows((name, rtype)) and not _same(rtype, want, view.rrsets.get((name, rtype)))
        ]
        if differing:
            kind = MISSING if all(not s.values for s in differing) else CHANGED
            drifted.append(
                DriftedRRset(
                    zone,
                    name_text(name),
                    rtype,
                    kind,
                    list(want.values),
                    want.record.ttl,
                    differing,
                    want.record,
                )
            )
    unmanaged: dict[Key, list[ServedBy]] = {}
    for view in views:
        if view.complete:
            for found in view.rrsets.keys() - recorded.keys():
                unmanaged.setdefault(found, []).append(_served_by(view, found))
    others = [
        DriftedRRset(zone, name_text(name), rtype, UNMANAGED, served=served)
        for (name, rtype), served in sorted(unmanaged.items(), key=_order)
    ]
    return drifted, others


def _same(rtype: str, want: Recorded, served: Served | None) -> bool:
    if served is None or served.ttl != want.record.ttl:
        return False
    if sorted(want.values) == list(served.values):  # the usual case, without parsing: same text, same data
        return True
    return same_rrset(list(want.values), list(served.values), rtype, dns.name.root)


def _served_by(view: ServerView, found: Key) -> ServedBy:
    served = view.rrsets.get(found)
    return ServedBy(view.server, list(served.values), served.ttl) if served else ServedBy(view.server)


def _order(item: tuple[Key, object]) -> tuple[dns.name.Name, str]:
    return item[0]
