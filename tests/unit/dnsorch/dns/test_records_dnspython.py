"""Names and values are checked and built by dnspython, yet every input accepted before is stored and
sent exactly as before (the database and running workflow histories hold those strings), and every
refusal names the same field with a reason as clear as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from dnsorch.contracts import DnsRequestSpec, InvalidRequest, ZoneFacts
from dnsorch.dns import parse_values, rdata_values, record_rdata, target_host
from dnsorch.requests.approval import verdict
from dnsorch.settings import Settings
from tests.fixtures.specs import ZONES, validated_spec

# Written by dnsorch/records.py as it was before dnspython built the values (commit 8bd5448): each
# row is what was sent, the DnsRequestSpec fields it became, and the DnsChange values for it.
BEFORE = json.loads((Path(__file__).parent / "records_before_dnspython.json").read_text())


def _id(row: dict[str, Any]) -> str:
    sent = row["sent"]
    return f"{sent['record_type']}-{sent['domain']}-{sent['target'][:24]}-{len(sent['target'])}"


@pytest.mark.parametrize("row", BEFORE, ids=[_id(row) for row in BEFORE])
def test_an_input_accepted_before_is_stored_and_sent_byte_for_byte_as_before(row: dict[str, Any]) -> None:
    sent, before = row["sent"], row["spec"]
    accepted = validated_spec(sent["record_type"], sent["domain"], sent["target"], **sent["config"])
    now = {field: getattr(accepted, field) for field in before}
    assert now == before
    assert (
        rdata_values(accepted.record_type, accepted.target, accepted.priority, accepted.extra_config)
        == (row["values"])
    )


@pytest.mark.parametrize("row", BEFORE, ids=[_id(row) for row in BEFORE])
def test_a_value_reads_back_as_the_rdata_it_was_built_from(row: dict[str, Any]) -> None:
    """What the playbook and the verification parse (`from_text`, origin the zone) is what was built."""
    stored = row["spec"]
    built = record_rdata(
        stored["record_type"],
        stored["target"],
        stored["priority"],
        row["sent"]["config"].get("extra_config", {}),
    )
    [value] = row["values"]
    zone = dns.name.from_text(stored["zone"])
    rdtype = dns.rdatatype.from_text(stored["record_type"])
    assert dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=zone, relativize=False) == built


# (record type, domain, target, config, field, reason). Reasons are today's, word for word, except
# where a comment says why the refusal is new.
DOMAIN, TARGET, PRIORITY = "resource.domain", "resource.target", "resource.config.priority"
PORT, WEIGHT = "resource.config.extra_config.port", "resource.config.extra_config.weight"
WWW, ALIAS, SIP = "www.example.test", "alias.example.test", "_sip._tcp.example.test"
LONG_NAME = ".".join(["a" * 60] * 4) + ".example.test"  # 256 characters
CHARACTERS = "may only contain ASCII letters, digits, '-', '.' (and '_' in service labels)"
NOT_IN_ZONE = "is not inside a managed zone"
TWO_LABELS = "must be a fully qualified name (at least two labels)"
NOT_A_LABEL = "is not a valid hostname label"
IPV4, IPV6 = "must be an IPv4 address, got", "must be an IPv6 address, got"
UINT16, SRV_UINT16 = "must be an integer from 0 to 65535", "must be an integer from 0 to 65535 for SRV"
CONTROL = "TXT value must not contain control characters"
SRV_OWNER = "SRV names start with _service._proto labels"


def _host_not_ip(rtype: str) -> str:
    return f"a {rtype} target must be a host name, not an IP address"


def srv(**extra: int) -> dict[str, Any]:
    return {"priority": 1, "extra_config": extra}


REFUSED = [
    ("A", "www.example.org", "192.0.2.1", {}, DOMAIN, f"'www.example.org' {NOT_IN_ZONE}"),
    ("A", "notexample.test", "192.0.2.1", {}, DOMAIN, f"'notexample.test' {NOT_IN_ZONE}"),
    ("A", "Www.Example.Org.", "192.0.2.1", {}, DOMAIN, f"'www.example.org' {NOT_IN_ZONE}"),
    ("A", "example", "192.0.2.1", {}, DOMAIN, TWO_LABELS),
    ("A", ".", "192.0.2.1", {}, DOMAIN, TWO_LABELS),
    ("A", " ", "192.0.2.1", {}, DOMAIN, "must be a non-empty domain name"),
    ("A", WWW, "192.0.2.300", {}, TARGET, f"{IPV4} '192.0.2.300'"),
    ("A", WWW, "2001:db8::1", {}, TARGET, f"{IPV4} '2001:db8::1'"),
    ("A", WWW, "192.0.2.01", {}, TARGET, f"{IPV4} '192.0.2.01'"),
    ("A", WWW, " 192.0.2.1", {}, TARGET, f"{IPV4} ' 192.0.2.1'"),
    ("A", WWW, "192.0.2.1 ; x", {}, TARGET, f"{IPV4} '192.0.2.1 ; x'"),
    ("A", WWW, "( 192.0.2.1 )", {}, TARGET, f"{IPV4} '( 192.0.2.1 )'"),
    ("A", WWW, "", {}, TARGET, "must not be empty"),
    ("AAAA", WWW, "192.0.2.1", {}, TARGET, f"{IPV6} '192.0.2.1'"),
    ("AAAA", WWW, "2001:db8::1 ", {}, TARGET, f"{IPV6} '2001:db8::1 '"),
    ("AAAA", WWW, "1:2:3:4:5:6:7:8:9", {}, TARGET, f"{IPV6} '1:2:3:4:5:6:7:8:9'"),
    # New: Python's ipaddress took a scope id, which no AAAA record can hold (the playbook refused it).
    ("AAAA", WWW, "fe80::1%eth0", {}, TARGET, f"{IPV6} 'fe80::1%eth0'"),
    ("A", "under_score.example.test", "192.0.2.1", {}, DOMAIN, f"label 'under_score' {NOT_A_LABEL}"),
    ("A", "_svc.example.test", "192.0.2.1", {}, DOMAIN, f"label '_svc' {NOT_A_LABEL}"),
    ("A", "-lead.example.test", "192.0.2.1", {}, DOMAIN, f"label '-lead' {NOT_A_LABEL}"),
    ("A", "trail-.example.test", "192.0.2.1", {}, DOMAIN, f"label 'trail-' {NOT_A_LABEL}"),
    ("A", "a" * 64 + ".example.test", "192.0.2.1", {}, DOMAIN, "has a label longer than 63 characters"),
    ("A", LONG_NAME, "192.0.2.1", {}, DOMAIN, "is longer than 253 characters"),
    ("A", "www..example.test", "192.0.2.1", {}, DOMAIN, "has an empty label"),
    ("A", ".www.example.test", "192.0.2.1", {}, DOMAIN, "has an empty label"),
    ("A", "www example.test", "192.0.2.1", {}, DOMAIN, CHARACTERS),
    ("A", "www.example.test;rm", "192.0.2.1", {}, DOMAIN, f"label 'test;rm' {NOT_A_LABEL}"),
    ("A", "www.example.test\n", "192.0.2.1", {}, DOMAIN, CHARACTERS),
    ("A", "wẃw.example.test", "192.0.2.1", {}, DOMAIN, CHARACTERS),
    ("A", "w(w).example.test", "192.0.2.1", {}, DOMAIN, f"label 'w(w)' {NOT_A_LABEL}"),
    ("A", "@.example.test", "192.0.2.1", {}, DOMAIN, f"label '@' {NOT_A_LABEL}"),
    ("A", "*.example.test", "192.0.2.1", {}, DOMAIN, f"label '*' {NOT_A_LABEL}"),
    # Was "label 'test\\\\' is not …"; a backslash is refused before dnspython could read it as an escape.
    ("TXT", "t.example.test\\", "x", {}, DOMAIN, CHARACTERS),
    ("A", "\\119ww.example.test", "192.0.2.1", {}, DOMAIN, CHARACTERS),
    ("CNAME", "example.test", WWW, {}, DOMAIN, "a CNAME cannot sit at the zone apex"),
    ("CNAME", "Sub.Example.Test.", WWW, {}, DOMAIN, "a CNAME cannot sit at the zone apex"),
    ("CNAME", ALIAS, "not a host", {}, TARGET, CHARACTERS),
    ("CNAME", ALIAS, "www", {}, TARGET, TWO_LABELS),
    # New: was stored as www.example.test (every final dot stripped); `..` is an empty label.
    ("CNAME", ALIAS, "www.example.test..", {}, TARGET, "has an empty label"),
    ("CNAME", ALIAS, "_x.example.test", {}, TARGET, f"label '_x' {NOT_A_LABEL}"),
    ("CNAME", ALIAS, "192.0.2.7", {}, TARGET, _host_not_ip("CNAME")),
    ("CNAME", ALIAS, "192.0.2.7.", {}, TARGET, _host_not_ip("CNAME")),
    ("CNAME", ALIAS, "2001:db8::7", {}, TARGET, _host_not_ip("CNAME")),
    ("CNAME", ALIAS, "ünï.example.test", {}, TARGET, CHARACTERS),
    ("MX", "example.test", "mail.example.test", {}, PRIORITY, "is required for MX records"),
    ("MX", "example.test", "mail.example.test", {"priority": 70000}, PRIORITY, UINT16),
    ("MX", "example.test", "2001:db8::7", {"priority": 1}, TARGET, _host_not_ip("MX")),
    ("MX", "example.test", "mail..example.test", {"priority": 1}, TARGET, "has an empty label"),
    ("A", WWW, "192.0.2.1", {"priority": 10}, PRIORITY, "only applies to MX and SRV records"),
    ("SRV", SIP, "sip.example.test", {"priority": 1}, PORT, SRV_UINT16),
    ("SRV", SIP, "sip.example.test", srv(port=70000), PORT, SRV_UINT16),
    ("SRV", SIP, "sip.example.test", srv(port=1, weight=-1), WEIGHT, SRV_UINT16),
    ("SRV", "sip.example.test", "sip.example.test", srv(port=1), DOMAIN, SRV_OWNER),
    ("SRV", "_sip.tcp.example.test", "sip.example.test", srv(port=1), DOMAIN, SRV_OWNER),
    ("SRV", SIP, "192.0.2.1", srv(port=1), TARGET, _host_not_ip("SRV")),
    ("TXT", "t.example.test", "nul\x00byte", {}, TARGET, CONTROL),
    ("TXT", "t.example.test", "tab\there", {}, TARGET, CONTROL),
    ("TXT", "t.example.test", "x" * 4001, {}, TARGET, "TXT value is longer than 4000 characters"),
    ("TXT", "t.example.test", "", {}, TARGET, "must not be empty"),
]


@pytest.mark.parametrize(("rtype", "domain", "target", "config", "field", "reason"), REFUSED)
def test_a_refusal_names_the_field_and_the_reason(  # type: ignore[no-untyped-def]
    rtype, domain, target, config, field, reason
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        validated_spec(rtype, domain, target, **config)
    assert (refused.value.field, refused.value.reason) == (field, reason)


def test_zones_are_compared_as_names_and_the_closest_enclosing_one_wins() -> None:
    assert validated_spec("A", "a.b.sub.example.test", "192.0.2.1").zone == "sub.example.test"
    assert validated_spec("A", "SUB.Example.Test.", "192.0.2.1").zone == "sub.example.test"
    assert validated_spec("A", "subexample.example.test", "192.0.2.1").zone == "example.test"
    assert validated_spec("A", "x.sub-example.test.example.test", "192.0.2.1").zone == "example.test"


@pytest.mark.parametrize("configured", ["example.test", "Example.Test.", "EXAMPLE.test"])
def test_an_approval_zone_matches_however_it_is_spelled(configured: str) -> None:
    accepted: DnsRequestSpec = validated_spec("A", "www.example.test", "192.0.2.1")
    settings = Settings(dns_zones=ZONES, approval_zones=[configured])
    assert verdict(accepted, settings, ZoneFacts()).required


@pytest.mark.parametrize("configured", ["sub.example.test", "test", "example..test"])
def test_an_approval_zone_matches_only_that_zone(configured: str) -> None:
    accepted: DnsRequestSpec = validated_spec("A", "www.example.test", "192.0.2.1")
    listed = Settings(dns_zones=ZONES, approval_zones=[configured], approval_risks=[])
    assert not verdict(accepted, listed, ZoneFacts()).required


def test_an_mx_or_srv_target_is_read_back_absolute_whatever_the_origin() -> None:
    """The plan asks the server about these hosts: a relative name would be asked at the root."""
    values = parse_values("MX", ["10 mail.example.test.", "20 Backup"], "example.test")
    hosts = {target_host(rdata) for rdata in values}
    assert hosts == {dns.name.from_text("mail.example.test."), dns.name.from_text("backup.example.test.")}
    [srv] = parse_values("SRV", ["10 0 5060 sip.example.test."], "example.test")
    assert target_host(srv) == dns.name.from_text("sip.example.test.")
