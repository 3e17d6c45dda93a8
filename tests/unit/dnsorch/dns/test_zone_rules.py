"""Who may change a name, and which names are the zone's own: the pure rules (dnsorch/dns/)."""

from __future__ import annotations

import pytest

from dnsorch.dns import attach_name, closest_owner, owner_candidates, owner_name, protected_reason

ZONE = "example.test"


@pytest.mark.parametrize(
    ("name", "attached"),
    [
        ("web.example.test", "web.example.test"),
        ("_acme-challenge.web.example.test", "web.example.test"),
        ("sel._domainkey.web.example.test", "web.example.test"),
        ("_sip._tcp.host.example.test", "host.example.test"),
        ("_dmarc.example.test", "example.test"),
        ("a.b._x.c.example.test", "c.example.test"),
    ],
)
def test_an_underscore_name_speaks_for_the_name_it_attaches_to(name: str, attached: str) -> None:
    assert attach_name(name).to_text(omit_final_dot=True) == attached


def test_a_name_is_owned_through_its_closest_owned_ancestor_below_the_apex() -> None:
    assert owner_candidates("API.web.example.test", ZONE) == ["api.web.example.test", "web.example.test"]
    assert owner_candidates("_acme-challenge.web.example.test", ZONE) == ["web.example.test"]
    owners = {"web.example.test": "acct-a"}
    for name in (
        "web.example.test",
        "api.web.example.test",
        "_acme-challenge.web.example.test",
        "x.y.web.example.test",
    ):
        assert closest_owner(owner_candidates(name, ZONE), owners) == ("web.example.test", "acct-a"), name


def test_a_grant_below_an_owned_name_starts_another_accounts_subtree() -> None:
    owners = {"web.example.test": "acct-a", "lab.web.example.test": "acct-b"}
    assert closest_owner(owner_candidates("x.lab.web.example.test", ZONE), owners) == (
        "lab.web.example.test",
        "acct-b",
    )
    assert closest_owner(owner_candidates("_dmarc.lab.web.example.test", ZONE), owners)[1] == "acct-b"  # type: ignore[index]
    assert closest_owner(owner_candidates("api.web.example.test", ZONE), owners)[1] == "acct-a"  # type: ignore[index]


def test_the_apex_owner_owns_the_apex_and_its_underscore_names_not_the_zone() -> None:
    owners = {"example.test": "acct-mail"}
    assert closest_owner(owner_candidates("example.test", ZONE), owners) == ("example.test", "acct-mail")
    assert closest_owner(owner_candidates("_dmarc.example.test", ZONE), owners) == (
        "example.test",
        "acct-mail",
    )
    assert closest_owner(owner_candidates("web.example.test", ZONE), owners) is None
    assert owner_name("_acme-challenge.new.example.test", ZONE) == "new.example.test"


def test_reverse_zones_are_closed_to_submitters_and_open_to_dnsorchs_ptrs() -> None:
    reverse = "2.0.192.in-addr.arpa"
    for door in ("api", "kafka", "a-team-label"):
        reason = protected_reason("5.2.0.192.in-addr.arpa", reverse, source=door)
        assert reason is not None and reason.startswith("protected_name:"), door
    assert protected_reason("5.2.0.192.in-addr.arpa", reverse, source="ptr") is None


def test_name_servers_and_zone_cuts_are_protected_for_submitters() -> None:
    targets = ["ns1.example.test.", "ns2.example.test."]
    assert "name server" in str(protected_reason("NS1.example.test", ZONE, source="api", ns_targets=targets))
    assert protected_reason("ns3.example.test", ZONE, source="api", ns_targets=targets) is None
    assert (
        protected_reason("ns1.example.test", ZONE, source="api", record_type="TXT", ns_targets=targets)
        is None
    )
    for rtype in ("A", "AAAA", "CNAME"):
        assert protected_reason("ns2.example.test", ZONE, source="api", record_type=rtype, ns_targets=targets)
    cut = protected_reason("www.child.example.test", ZONE, source="kafka", zone_cut="child.example.test")
    assert cut is not None and "zone cut child.example.test" in cut
    assert protected_reason("ns1.example.test", ZONE, source="drift", ns_targets=targets) is None
