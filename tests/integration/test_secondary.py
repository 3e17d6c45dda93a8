"""The dev stack's zone is served by two implementations: BIND as primary, Knot DNS as its secondary.

What a user relies on: a change made on the primary is served by every server the zone's NS
RRset names, within seconds, and a secondary that was down catches up when it is back.
"""

from __future__ import annotations

import time
import uuid

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

from activities.dns_check import query_rrset
from devstack.tsig import read_tsig_key
from tests.fixtures.bind import TEST_ZONE, BindInfo, wait_until_secondary_serves_primary

pytestmark = pytest.mark.integration


def update_on_primary(bind: BindInfo, label: str, address: str) -> str:
    """Set `label`'s A RRset on the primary with a TSIG-signed UPDATE; the owner name."""
    key = read_tsig_key(bind.key_file)
    update = dns.update.UpdateMessage(TEST_ZONE, keyring=dns.tsig.Key(key.name, key.secret, key.algorithm))
    update.replace(label, 300, dns.rdatatype.A, address)
    response = dns.query.tcp(update, bind.host, port=bind.port, timeout=5)
    assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())
    return f"{label}.{TEST_ZONE}"


def ask(host: str, port: int, name: str, rdtype: dns.rdatatype.RdataType) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD
    return dns.query.udp(query, host, port=port, timeout=2)


def log_lines(bind: BindInfo) -> int:
    assert bind.secondary is not None
    return len(bind.secondary.log_path.read_text(errors="replace").splitlines())


async def test_a_change_on_the_primary_is_served_by_the_secondary_within_seconds(
    bind_server: BindInfo,
) -> None:
    assert bind_server.secondary_host is not None
    seen = log_lines(bind_server)
    name = update_on_primary(bind_server, f"prop-{uuid.uuid4().hex[:6]}", "192.0.2.60")

    took = wait_until_secondary_serves_primary(bind_server)

    print(f"\nNOTIFY → IXFR: Knot served BIND's new serial {took * 1000:.0f} ms after the update")
    assert await query_rrset(bind_server.secondary_host, bind_server.port, name, "A") == ["192.0.2.60"]
    assert bind_server.secondary is not None
    new_log = bind_server.secondary.log_path.read_text(errors="replace").splitlines()[seen:]
    assert any("notify, incoming" in line for line in new_log), "\n".join(new_log)
    assert any("IXFR, incoming" in line for line in new_log), "an AXFR where an IXFR would do"


def test_the_ns_rrset_names_both_servers_and_each_answers_with_authority(bind_server: BindInfo) -> None:
    ns = ask(bind_server.host, bind_server.port, TEST_ZONE, dns.rdatatype.NS)
    names = sorted(rdata.target.to_text() for rrset in ns.answer for rdata in rrset)
    assert names == [f"ns1.{TEST_ZONE}.", f"ns2.{TEST_ZONE}."]

    addresses = {}
    for name in names:
        glue = ask(bind_server.host, bind_server.port, name, dns.rdatatype.A)
        addresses[name] = [rdata.address for rrset in glue.answer for rdata in rrset]
    assert addresses == {
        f"ns1.{TEST_ZONE}.": [bind_server.host],
        f"ns2.{TEST_ZONE}.": [bind_server.secondary_host],
    }
    for name, (address,) in addresses.items():
        answer = ask(address, bind_server.port, TEST_ZONE, dns.rdatatype.SOA)
        assert answer.rcode() == dns.rcode.NOERROR and answer.flags & dns.flags.AA, (name, answer)
    wait_until_secondary_serves_primary(bind_server)
    assert bind_server.secondary is not None
    assert bind_server.server.serial(TEST_ZONE) == bind_server.secondary.serial(TEST_ZONE)


async def test_a_secondary_that_was_down_catches_up_when_it_is_back(bind_server: BindInfo) -> None:
    secondary = bind_server.secondary
    assert secondary is not None and bind_server.secondary_host is not None
    wait_until_secondary_serves_primary(bind_server)
    secondary.stop()
    try:
        missed = [
            update_on_primary(bind_server, f"missed{i}-{uuid.uuid4().hex[:6]}", "192.0.2.61")
            for i in range(3)
        ]
        assert secondary.serial(TEST_ZONE) is None  # down, really
    finally:
        started = time.monotonic()
        secondary.start()

    took = wait_until_secondary_serves_primary(bind_server)

    print(
        f"\nrestarted Knot caught up {time.monotonic() - started:.2f} s after its start "
        f"({took:.2f} s after it served again)"
    )
    for name in missed:
        assert await query_rrset(bind_server.secondary_host, bind_server.port, name, "A") == ["192.0.2.61"]
