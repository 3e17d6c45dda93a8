"""Ask an authoritative server what it serves at a name: the one DNS read the core and the activities share.

Recursion is off on purpose: we ask the server itself, never a cache.
"""

from __future__ import annotations

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype


async def query_rrset(
    server: str,
    port: int,
    name: str,
    rtype: str,
    timeout: float = 2.0,  # noqa: ASYNC109 - per query, handed to dnspython
) -> list[str]:
    """The RRset at `name` as presentation-format strings; [] when there is none."""
    return (await read_rrset(server, port, name, rtype, timeout))[0]


async def read_rrset(
    server: str,
    port: int,
    name: str,
    rtype: str,
    timeout: float = 2.0,  # noqa: ASYNC109 - per query, handed to dnspython
) -> tuple[list[str], int | None]:
    """The RRset at `name` as presentation-format strings and its TTL; ([], None) when there is none.

    Recursion is off on purpose: we ask the primary itself, never a cache. Names inside the
    rdata come back absolute (`mail.example.test.`), like `dnsorch.records.rdata_values`.
    """
    qname = dns.name.from_text(name)
    qtype = dns.rdatatype.from_text(rtype)
    query = dns.message.make_query(qname, qtype)
    query.flags &= ~dns.flags.RD
    response = await dns.asyncquery.udp(query, server, port=port, timeout=timeout)
    if response.flags & dns.flags.TC:  # large TXT sets: ask again over TCP
        response = await dns.asyncquery.tcp(query, server, port=port, timeout=timeout)
    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return [], None
    if rcode != dns.rcode.NOERROR:
        raise dns.exception.DNSException(f"{server}:{port} answered {dns.rcode.to_text(rcode)}")
    rrset = response.get_rrset(response.answer, qname, dns.rdataclass.IN, qtype)
    if rrset is None:  # NoAnswer (e.g. only a CNAME lives at the name)
        return [], None
    return [rdata.to_text() for rdata in rrset], rrset.ttl
