"""DNS rules a request must pass before anything is stored or reaches Ansible."""

from __future__ import annotations

import pytest

from dnsorch.contracts import InvalidRequest
from dnsorch.dns import rdata_values
from dnsorch.requests import CreateDnsRequest
from tests.fixtures.specs import validated_spec

ACCEPTED = [
    ("A", "www.example.test", "192.0.2.10", {}, "192.0.2.10"),
    ("A", "WWW.Example.Test.", "192.0.2.10", {}, "192.0.2.10"),
    ("AAAA", "v6.example.test", "2001:DB8::1", {}, "2001:db8::1"),
    ("CNAME", "alias.example.test", "www.example.test.", {}, "www.example.test"),
    ("MX", "example.test", "mail.example.test", {"priority": 10}, "mail.example.test"),
    ("MX", "example.test", "mail.example.test", {"priority": 0}, "mail.example.test"),
    ("TXT", "_dmarc.example.test", "v=DMARC1; p=none", {}, "v=DMARC1; p=none"),
    ("TXT", "t.example.test", "{{ lookup('pipe','id') }}", {}, "{{ lookup('pipe','id') }}"),
    (
        "SRV",
        "_sip._tcp.example.test",
        "sip.example.test",
        {"priority": 10, "extra_config": {"port": 5060, "weight": 5}},
        "sip.example.test",
    ),
    ("A", ("a" * 63) + ".example.test", "192.0.2.1", {}, "192.0.2.1"),
    ("a", "lower.example.test", "192.0.2.1", {}, "192.0.2.1"),
]


@pytest.mark.parametrize(("rtype", "domain", "target", "config", "stored_target"), ACCEPTED)
def test_valid_records_are_accepted_and_normalised(rtype, domain, target, config, stored_target) -> None:  # type: ignore[no-untyped-def]
    result = validated_spec(rtype, domain, target, **config)
    assert result.target == stored_target
    assert result.domain == domain.lower().rstrip(".")
    assert result.record_type == rtype.upper()


def test_most_specific_managed_zone_wins() -> None:
    assert validated_spec("A", "host.sub.example.test", "192.0.2.1").zone == "sub.example.test"
    assert validated_spec("A", "host.example.test", "192.0.2.1").zone == "example.test"


LONG_NAME = ".".join(["a" * 60] * 4) + ".example.test"  # > 253 characters

REFUSED = [
    ("PTR", "www.example.test", "x.example.test", {}, "resource.record_type"),
    ("A", "www.example.org", "192.0.2.1", {}, "resource.domain"),
    ("A", "notexample.test", "192.0.2.1", {}, "resource.domain"),
    ("A", "www.example.test", "192.0.2.300", {}, "resource.target"),
    ("A", "www.example.test", "2001:db8::1", {}, "resource.target"),
    ("A", "www.example.test", "192.0.2.01", {}, "resource.target"),
    ("AAAA", "www.example.test", "192.0.2.1", {}, "resource.target"),
    ("A", "under_score.example.test", "192.0.2.1", {}, "resource.domain"),
    ("A", "-lead.example.test", "192.0.2.1", {}, "resource.domain"),
    ("A", "trail-.example.test", "192.0.2.1", {}, "resource.domain"),
    ("A", ("a" * 64) + ".example.test", "192.0.2.1", {}, "resource.domain"),
    ("A", LONG_NAME, "192.0.2.1", {}, "resource.domain"),
    ("A", "www..example.test", "192.0.2.1", {}, "resource.domain"),
    ("A", "www example.test", "192.0.2.1", {}, "resource.domain"),
    ("A", "www.example.test;rm", "192.0.2.1", {}, "resource.domain"),
    ("A", "www.example.test\n", "192.0.2.1", {}, "resource.domain"),
    ("CNAME", "example.test", "www.example.test", {}, "resource.domain"),
    ("CNAME", "alias.example.test", "not a host", {}, "resource.target"),
    ("MX", "example.test", "mail.example.test", {}, "resource.config.priority"),
    ("MX", "example.test", "mail.example.test", {"priority": 70000}, "resource.config.priority"),
    ("A", "www.example.test", "192.0.2.1", {"priority": 10}, "resource.config.priority"),
    (
        "SRV",
        "_sip._tcp.example.test",
        "sip.example.test",
        {"priority": 1},
        "resource.config.extra_config.port",
    ),
    (
        "SRV",
        "sip.example.test",
        "sip.example.test",
        {"priority": 1, "extra_config": {"port": 1}},
        "resource.domain",
    ),
    ("TXT", "t.example.test", "nul\x00byte", {}, "resource.target"),
    ("TXT", "t.example.test", "line\nbreak", {}, "resource.target"),
    ("A", "www.example.test", "192.0.2.1", {"ttl": 0}, "resource.config.ttl"),
    ("A", "www.example.test", "192.0.2.1", {"ttl": 10_000_000}, "resource.config.ttl"),
]


@pytest.mark.parametrize(("rtype", "domain", "target", "config", "field"), REFUSED)
def test_invalid_records_are_refused_with_the_field_named(rtype, domain, target, config, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRequest) as refused:
        validated_spec(rtype, domain, target, **config)
    assert refused.value.field == field
    assert refused.value.reason


@pytest.mark.parametrize(
    ("rtype", "target", "priority", "extra", "expected"),
    [
        ("A", "192.0.2.1", None, {}, ["192.0.2.1"]),
        ("CNAME", "www.example.test", None, {}, ["www.example.test."]),
        ("MX", "mail.example.test", 10, {}, ["10 mail.example.test."]),
        (
            "SRV",
            "sip.example.test",
            10,
            {"port": 5060, "weight": 5},
            ["10 5 5060 sip.example.test."],
        ),
        ("SRV", "sip.example.test", 10, {"port": 5060}, ["10 0 5060 sip.example.test."]),
        ("TXT", 'say "hi" \\ now', None, {}, ['"say \\"hi\\" \\\\ now"']),
    ],
)
def test_values_reach_dns_in_presentation_format(rtype, target, priority, extra, expected) -> None:  # type: ignore[no-untyped-def]
    assert rdata_values(rtype, target, priority, extra) == expected


def test_long_txt_values_are_split_into_255_byte_strings() -> None:
    text = "x" * 600
    assert rdata_values("TXT", text, None, {}) == [
        " ".join(['"' + "x" * 255 + '"', '"' + "x" * 255 + '"', '"' + "x" * 90 + '"'])
    ]


def test_txt_bytes_beyond_printable_ascii_are_written_as_decimal_escapes() -> None:
    """RFC 1035 §5.1 presentation format: a 255-byte split may cut a character in two."""
    assert rdata_values("TXT", "é", None, {}) == ['"\\195\\169"']
    assert rdata_values("TXT", "x" * 254 + "é", None, {}) == ['"' + "x" * 254 + '\\195" "\\169"']


@pytest.mark.parametrize(
    "patch",
    [
        {"context": {"account_id": ""}},
        {"context": {"account_id": "acct\x00"}},
        {"context": {"account_id": "a", "source": "Not Valid"}},
        {"resource": {"comment": "x" * 2000}},
        {"resource": {"config": {"ttl": 300, "extra_config": {"nested": {"a": 1}}}}},
        {"resource": {"unexpected": 1}},
    ],
)
def test_schema_refuses_malformed_bodies(patch: dict[str, dict[str, object]]) -> None:
    raw: dict[str, dict[str, object]] = {
        "context": {"account_id": "acct-42", "source": "api"},
        "resource": {"record_type": "A", "domain": "www.example.test", "target": "192.0.2.1"},
    }
    for key, value in patch.items():
        raw[key] = {**raw[key], **value}
    with pytest.raises(ValueError):
        CreateDnsRequest.model_validate(raw)
