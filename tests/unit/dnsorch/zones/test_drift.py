"""Drift's comparison (dnsorch/dns/comparison.py) and the plan of a `restore`, the change that heals it."""

from __future__ import annotations

from datetime import UTC, datetime

import dns.name
import dns.zone
import pytest

from dnsorch.contracts import DnsChange, ManagedRecord
from dnsorch.dns import comparison, plan_for, rdata_values, skip_reason
from dnsorch.dns.comparison import Recorded, Served, ServerView, find_drift, key
from dnsorch.zones import drift

ZONE = "example.test"
NS1, NS2 = "ns1.example.test (127.0.0.1)", "ns2.example.test (127.0.0.2)"


def recorded(domain: str, rtype: str, *values: str, ttl: int = 300) -> dict[comparison.Key, Recorded]:
    return {key(domain, rtype): Recorded(values, ManagedRecord("acct-1", values[0], ttl))}


def view(server: str, *rrsets: tuple[str, str, tuple[str, ...], int]) -> ServerView:
    return ServerView(server, {key(d, t): Served(v, ttl) for d, t, v, ttl in rrsets})


WWW = recorded("www.example.test", "A", "192.0.2.10")
SERVED_WWW = ("www.example.test", "A", ("192.0.2.10",), 300)

# (case, recorded, views, expected drifted [(name, type, kind, servers that differ)], expected unmanaged)
CASES = [
    ("both servers serve what was recorded", WWW, [view(NS1, SERVED_WWW), view(NS2, SERVED_WWW)], [], []),
    (
        "the secondary serves another value",
        WWW,
        [view(NS1, SERVED_WWW), view(NS2, ("www.example.test", "A", ("192.0.2.99",), 300))],
        [("www.example.test", "A", "changed", [NS2])],
        [],
    ),
    (
        "deleted behind dnsorch's back on both",
        WWW,
        [view(NS1), view(NS2)],
        [("www.example.test", "A", "missing", [NS1, NS2])],
        [],
    ),
    (
        "one server lost it, the other serves another value",
        WWW,
        [view(NS1), view(NS2, ("www.example.test", "A", ("192.0.2.99",), 300))],
        [("www.example.test", "A", "changed", [NS1, NS2])],
        [],
    ),
    (
        "only the TTL changed",
        WWW,
        [view(NS1, ("www.example.test", "A", ("192.0.2.10",), 60))],
        [("www.example.test", "A", "changed", [NS1])],
        [],
    ),
    (
        "names compare as DNS compares them",
        recorded("Mail.Example.test", "MX", "10 mail.example.test."),
        [view(NS1, ("mail.example.test", "MX", ("10 MAIL.example.TEST.",), 300))],
        [],
        [],
    ),
    (
        "TXT compares as character-strings, not as text",
        recorded("t.example.test", "TXT", '"ab"'),
        [view(NS1, ("t.example.test", "TXT", ('"a" "b"',), 300))],
        [("t.example.test", "TXT", "changed", [NS1])],
        [],
    ),
    (
        "a record set nobody manages is unmanaged, on every server that serves it",
        WWW,
        [
            view(NS1, SERVED_WWW, ("hand.example.test", "TXT", ('"by hand"',), 60)),
            view(NS2, SERVED_WWW, ("hand.example.test", "TXT", ('"by hand"',), 60)),
        ],
        [],
        [("hand.example.test", "TXT", "unmanaged", [NS1, NS2])],
    ),
    (
        "another type at a managed name is unmanaged",
        WWW,
        [view(NS1, SERVED_WWW, ("www.example.test", "AAAA", ("2001:db8::1",), 300))],
        [],
        [("www.example.test", "AAAA", "unmanaged", [NS1])],
    ),
]


@pytest.mark.parametrize(
    ("managed", "views", "want_drifted", "want_unmanaged"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_find_drift(
    managed: dict[comparison.Key, Recorded],
    views: list[ServerView],
    want_drifted: list[tuple[str, str, str, list[str]]],
    want_unmanaged: list[tuple[str, str, str, list[str]]],
) -> None:
    drifted, unmanaged = find_drift(ZONE, managed, views)
    assert [(d.domain, d.record_type, d.kind, [s.server for s in d.served]) for d in drifted] == want_drifted
    assert [(d.domain, d.record_type, d.kind, [s.server for s in d.served]) for d in unmanaged] == (
        want_unmanaged
    )
    for found in unmanaged:
        assert found.record is None, "an unmanaged record set can never be restored"


def test_a_server_asked_record_set_by_record_set_judges_only_what_it_was_asked() -> None:
    """A server that refused the transfer was asked the managed record sets only: it cannot reveal
    unmanaged data, and a record set added to dns_records after it was asked is not judged on it."""
    managed = {**WWW, **recorded("new.example.test", "A", "192.0.2.20")}
    partial = ServerView(NS2, {key(*SERVED_WWW[:2]): Served(*SERVED_WWW[2:])}, complete=False)
    partial.asked = {key("www.example.test", "A")}
    drifted, unmanaged = find_drift(ZONE, managed, [partial])
    assert (drifted, unmanaged) == ([], [])


def test_the_difference_names_each_server_and_what_dnsorch_recorded() -> None:
    [found], _ = find_drift(ZONE, WWW, [view(NS1, SERVED_WWW), view(NS2)])
    assert drift.attention_reason(found) == (
        f"drift: {NS2} serves nothing, dnsorch recorded 192.0.2.10 (TTL 300)"
    )
    spec = drift.restore_spec(found, "00000000-0000-0000-0000-000000000001", datetime(2025, 1, 1, tzinfo=UTC))
    assert (spec.operation, spec.source, spec.account_id, spec.target) == (
        "restore",
        "drift",
        "acct-1",
        "192.0.2.10",
    )


def test_request_ids_are_one_per_record_set_and_scan() -> None:
    [found], _ = find_drift(ZONE, WWW, [view(NS1)])
    first = drift.request_id_for(ZONE, found, "run-1")
    assert first == drift.request_id_for(ZONE, found, "run-1")
    assert first != drift.request_id_for(ZONE, found, "run-2")


def test_a_zone_view_leaves_out_what_dnsorch_never_manages() -> None:
    text = """
$ORIGIN example.test.
@      300 IN SOA ns1 hostmaster 1 3600 600 86400 300
@      300 IN NS  ns1
@      300 IN NS  ns2
ns1    300 IN A   127.0.0.1
ns2    300 IN A   127.0.0.2
child  300 IN NS  ns.child
ns.child 300 IN A 192.0.2.53
www    300 IN A   192.0.2.10
hand   60  IN TXT "by hand"
"""
    served = dns.zone.from_text(text, relativize=False)
    seen = comparison.zone_view(NS1, served)
    assert sorted((name.to_text(), rtype) for name, rtype in seen.rrsets) == [
        ("hand.example.test.", "TXT"),
        ("www.example.test.", "A"),
    ]
    assert seen.rrsets[key("hand.example.test", "TXT")] == Served(('"by hand"',), 60)


REVERSE = "2.0.192.in-addr.arpa"
PTR_NAME = "10.2.0.192.in-addr.arpa"


def reverse_zone(*ptrs: str) -> dns.zone.Zone:
    """The reverse zone as a server transfers it: its SOA and NS, and `ptrs` ("10 www.example.test.")."""
    text = "\n".join(
        [
            f"$ORIGIN {REVERSE}.",
            "@ 300 IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300",
            "@ 300 IN NS ns1.example.test.",
            *(f"{label} 300 IN PTR {target}" for label, target in (ptr.split() for ptr in ptrs)),
        ]
    )
    return dns.zone.from_text(text, relativize=False)


def kept_ptr(target: str, owner: str = "acct-1") -> dict[comparison.Key, Recorded]:
    """A PTR dnsorch keeps for its A `target`, as store/managed_zone.py reads it from `dns_records`."""
    values = tuple(rdata_values("PTR", target, None, {}))
    return {key(PTR_NAME, "PTR"): Recorded(values, ManagedRecord(owner, target, 300))}


def test_a_ptr_dnsorch_keeps_and_dns_serves_as_recorded_is_no_drift() -> None:
    served = reverse_zone("10 www.example.test.")
    views = [comparison.zone_view(NS1, served), comparison.zone_view(NS2, served)]

    drifted, unmanaged = find_drift(REVERSE, kept_ptr("www.example.test"), views)

    assert (drifted, unmanaged) == ([], [])


def test_a_ptr_changed_by_hand_in_a_managed_reverse_zone_is_drift_restored_for_its_owner() -> None:
    views = [
        comparison.zone_view(NS1, reverse_zone("10 www.example.test.")),
        comparison.zone_view(NS2, reverse_zone("10 by-hand.example.test.")),
    ]

    [found], unmanaged = find_drift(REVERSE, kept_ptr("www.example.test", owner="acct-web"), views)

    assert (found.domain, found.record_type, found.kind, [s.server for s in found.served]) == (
        PTR_NAME,
        "PTR",
        "changed",
        [NS2],
    )
    assert unmanaged == []
    spec = drift.restore_spec(found, "00000000-0000-0000-0000-000000000002", datetime(2025, 1, 1, tzinfo=UTC))
    assert (spec.operation, spec.record_type, spec.zone, spec.account_id, spec.target) == (
        "restore",
        "PTR",
        REVERSE,
        "acct-web",
        "www.example.test",
    )


def test_a_ptr_nobody_keeps_in_a_managed_reverse_zone_is_reported_never_adopted() -> None:
    served = reverse_zone("10 www.example.test.", "20 legacy.example.test.")

    drifted, unmanaged = find_drift(
        REVERSE, kept_ptr("www.example.test"), [comparison.zone_view(NS1, served)]
    )

    assert drifted == []
    assert [(u.domain, u.record_type, u.kind) for u in unmanaged] == [
        ("20.2.0.192.in-addr.arpa", "PTR", "unmanaged")
    ]
    legacy = dns.name.from_text("20.2.0.192.in-addr.arpa")
    rdataset = served.find_rdataset(legacy, "PTR")
    assert skip_reason(served, legacy, rdataset), "adoption still leaves PTRs to their forward records"


def restore(values: list[str], ttl: int = 300) -> DnsChange:
    return DnsChange("r", "restore", "A", "www.example.test", ZONE, values, ttl)


@pytest.mark.parametrize(
    ("change", "served", "served_ttl", "action"),
    [
        (restore(["192.0.2.10"]), ["192.0.2.99"], 300, "replace"),
        (restore(["192.0.2.10"]), [], None, "add"),
        (restore(["192.0.2.10"]), ["192.0.2.10"], 300, "unchanged"),
        (restore(["192.0.2.10"]), ["192.0.2.10"], 60, "replace"),
        (restore([]), ["192.0.2.99"], 300, "delete"),
        (restore([]), [], None, "none"),
    ],
)
def test_a_restore_is_planned_as_what_it_does_never_as_a_conflict(
    change: DnsChange, served: list[str], served_ttl: int | None, action: str
) -> None:
    plan = plan_for(change, served, served_ttl, cname=[])
    assert (plan.action, plan.conflict) == (action, "")
