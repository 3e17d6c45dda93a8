"""Names no submitter may change: they are the zone's own, or not the zone's at all.

- the apex SOA and NS: not requestable types (records.py SUPPORTED_TYPES);
- the addresses of the zone's name servers (NS targets: their glue, or a CNAME in its place,
  RFC 2181 §10.3); other data there (a TXT) is anyone's as usual. One address given to
  `ns1` is used for every later query of the zone, so a single request would take the whole
  zone's verification, and every later request in it, down (RFC 1034 §4.2.1);
- a zone cut and everything below it: that data is served by the child zone's servers and is
  only occluded here (RFC 1034 §4.2.1, RFC 2136 §7.18);
- a reverse zone: its PTRs follow their forward A/AAAA records, or an operator, never a submitter.
"""

from __future__ import annotations

from collections.abc import Iterable

import dns.name

from dnsorch.dns.reverse import is_reverse_zone

DNSORCH_SOURCES = frozenset({"ptr", "drift", "adoption"})
"""The doors dnsorch itself comes through; every other source (api, kafka) is a submitter's."""

PROTECTED_NAME = "protected_name"
_GLUE_TYPES = frozenset({"A", "AAAA", "CNAME"})
"""What a name server's name may not be given: an address (glue) or an alias in place of one."""


def protected_reason(
    name: str,
    zone: str,
    *,
    source: str,
    record_type: str = "A",
    ns_targets: Iterable[str] = (),
    zone_cut: str | None = None,
) -> str | None:
    """Why `name` may not be changed through `source`, or None when it may."""
    if source in DNSORCH_SOURCES:
        return None
    if is_reverse_zone(zone):
        return (
            f"{PROTECTED_NAME}: {zone} is a reverse zone: its PTRs follow their A and AAAA records"
            " (or an operator), never a request of their own"
        )
    qname = dns.name.from_text(name)
    if record_type in _GLUE_TYPES and any(qname == dns.name.from_text(t) for t in ns_targets):
        return (
            f"{PROTECTED_NAME}: {name} is a name server of {zone}: its addresses are the zone's glue,"
            " which only the zone's operators change"
        )
    if zone_cut is not None:
        return (
            f"{PROTECTED_NAME}: {name} is at or below the zone cut {zone_cut}:"
            " another zone's servers serve it"
        )
    return None
