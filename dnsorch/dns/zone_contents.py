"""What in a served zone dnsorch manages: every record set but the zone's SOA, its own name servers and
their glue, what lies at or below a delegation, DNSSEC data and types dnsorch does not handle. Adoption
and drift detection read a zone through the same rules; drift also counts the PTRs of reverse zones,
which dnsorch keeps for its own A and AAAA records."""

from __future__ import annotations

import dns.name
import dns.rdataset
import dns.rdatatype
import dns.zone

from dnsorch.dns.records import SUPPORTED_TYPES
from dnsorch.dns.reverse import is_reverse_zone

_DNSSEC_TYPES = {"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY", "DS", "TYPE65534"}


def served_rrsets(
    served: dns.zone.Zone, subtree: dns.name.Name
) -> list[tuple[dns.name.Name, dns.rdataset.Rdataset]]:
    """The record sets at and below `subtree`, in name order."""
    return [
        (name, rdataset)
        for name, node in sorted(served.nodes.items())
        if name.is_subdomain(subtree)
        for rdataset in sorted(node.rdatasets, key=lambda r: r.rdtype)
    ]


def skip_reason(
    served: dns.zone.Zone, name: dns.name.Name, rdataset: dns.rdataset.Rdataset, *, kept_ptrs: bool = False
) -> str:
    """Why dnsorch leaves this record set alone, or "" when it is one it could manage.

    `kept_ptrs`: a PTR in a reverse zone is one, as drift reads a zone: dnsorch keeps there the PTRs
    of the A and AAAA records it manages (dnsorch/dns/reverse.py), so it must see what the servers serve.
    Adoption leaves PTRs alone: a PTR is kept through its forward record, never adopted on its own.
    """
    origin = served.origin
    assert origin is not None
    rtype = dns.rdatatype.to_text(rdataset.rdtype)
    apex_ns = served.get_rdataset(origin, dns.rdatatype.NS)
    name_servers = {rd.target for rd in apex_ns} if apex_ns is not None else set()
    if rtype == "SOA":
        return "the zone's SOA"
    if rtype == "NS" and name == origin:
        return "the zone's own name servers"
    cut = delegation_above(served, name)
    if cut is not None:
        return f"delegated to another zone at {_text(cut)}"
    if rtype in ("A", "AAAA") and name in name_servers:
        return "address (glue) of the zone's own name server"
    if rtype in _DNSSEC_TYPES:
        return "DNSSEC data: the signer maintains it"
    if rtype == "PTR" and kept_ptrs and is_reverse_zone(origin.to_text()):
        return ""
    if rtype not in SUPPORTED_TYPES:
        return f"{rtype} is not a type dnsorch manages"
    return ""


def delegation_above(served: dns.zone.Zone, name: dns.name.Name) -> dns.name.Name | None:
    """The zone cut at or above `name` (below the apex), if any: data there belongs to a child zone."""
    origin = served.origin
    assert origin is not None
    while name != origin and name.is_subdomain(origin):
        if served.get_rdataset(name, dns.rdatatype.NS) is not None:
            return name
        name = name.parent()
    return None


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()
