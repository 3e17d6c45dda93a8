"""Ask an authoritative server what it serves at a name: the one DNS read the core and the activities share.

Recursion is off on purpose: we ask the server itself, never a cache.
"""

from __future__ import annotations

import asyncio
import socket

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from dnsorch.contracts import NameServer


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
    rdata come back absolute (`mail.example.test.`), like `dnsorch.dns.rdata_values`.
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


async def name_exists(
    server: str,
    port: int,
    name: str,
    timeout: float = 2.0,  # noqa: ASYNC109 - per query, handed to dnspython
) -> bool:
    """Whether the server has `name` at all (any type, or names below it): not NXDOMAIN."""
    query = dns.message.make_query(dns.name.from_text(name), dns.rdatatype.SOA)
    query.flags &= ~dns.flags.RD
    response = await dns.asyncquery.udp(query, server, port=port, timeout=timeout)
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        raise dns.exception.DNSException(f"{server}:{port} answered {dns.rcode.to_text(rcode)}")
    return rcode == dns.rcode.NOERROR


async def authoritative_servers(
    primary: str,
    port: int,
    zone: str,
    timeout: float = 2.0,  # noqa: ASYNC109 - per query, handed to dnspython
) -> list[NameServer]:
    """The zone's authoritative servers: its NS RRset, as the primary serves it, with each name's
    addresses (asked from the primary too, which serves the glue of in-zone names; out-of-zone
    names through the system resolver). Every address is asked on `port`."""
    names = sorted(await query_rrset(primary, port, zone + ".", "NS", timeout))
    if not names:
        raise dns.exception.DNSException(f"{primary}:{port} serves no NS RRset for {zone}")
    servers: list[NameServer] = []
    for name in names:
        addresses = [
            *await query_rrset(primary, port, name, "A", timeout),
            *await query_rrset(primary, port, name, "AAAA", timeout),
        ]
        if not addresses and not dns.name.from_text(name).is_subdomain(dns.name.from_text(zone + ".")):
            addresses = await _system_addresses(name.rstrip("."))
        if not addresses:
            raise dns.exception.DNSException(f"the name server {name} of {zone} has no address")
        servers += [NameServer(name.rstrip("."), address, port) for address in sorted(addresses)]
    return servers


async def _system_addresses(host: str) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in found})


def parse_servers(specs: list[str], port: int) -> list[NameServer]:
    """Servers named by hand (`host`, `host:port`, `[v6]:port`), as DNS_VERIFY_SERVERS lists them."""
    servers = []
    for spec in specs:
        host, given = _host_port(spec.strip(), port)
        servers.append(NameServer(host, host, given))
    return servers


def _host_port(spec: str, port: int) -> tuple[str, int]:
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else port
    if spec.count(":") == 1:  # one colon: host:port; more: a bare IPv6 address
        host, given = spec.split(":")
        return host, int(given)
    return spec, port


async def zone_cut_above(
    server: str,
    port: int,
    name: str,
    zone: str,
    timeout: float = 2.0,  # noqa: ASYNC109 - per query, handed to dnspython
) -> str | None:
    """The delegation point at or above `name` inside `zone`, if another zone's servers serve it.

    Asked of the primary without recursion: for a name at or below a zone cut it answers with a
    referral (no AA flag, the child's NS RRset in the authority section, RFC 1034 §4.3.2).
    """
    qname, apex = dns.name.from_text(name), dns.name.from_text(zone)
    query = dns.message.make_query(qname, dns.rdatatype.NS)
    query.flags &= ~dns.flags.RD
    response = await dns.asyncquery.udp(query, server, port=port, timeout=timeout)
    if response.flags & dns.flags.AA:
        return None
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.NS and rrset.name != apex and rrset.name.is_subdomain(apex):
            return str(rrset.name.to_text(omit_final_dot=True))
    return None
