"""The approval policy: risky changes wait for a person, routine ones do not, and each verdict says why."""

from __future__ import annotations

import pytest

from dnsorch.contracts import DnsRequestSpec, ZoneFacts
from dnsorch.requests.approval import verdict
from dnsorch.settings import Settings
from tests.fixtures.specs import request_spec

SETTINGS = Settings(dns_zones=["example.test"])


def spec(**fields: object) -> DnsRequestSpec:
    """A routine create below the apex with an hour's TTL; `fields` replace any of its fields."""
    return request_spec(**{"account_id": "acct-1", "domain": "www.example.test", "ttl": 3600, **fields})


def test_a_routine_create_does_not_wait() -> None:
    held = verdict(spec(), SETTINGS, ZoneFacts(zone_record_sets=50))
    assert not held.required and held.reasons == []
    assert held.describe() == "routine change: no approval needed"


@pytest.mark.parametrize(
    ("fields", "facts", "reason"),
    [
        ({"operation": "delete"}, ZoneFacts(), "a delete"),
        ({"domain": "example.test", "record_type": "TXT", "target": "v=spf1 -all"}, ZoneFacts(), "apex"),
        ({"record_type": "MX", "target": "mail.example.test", "priority": 10}, ZoneFacts(), "MX change"),
        ({"operation": "update", "ttl": 60}, ZoneFacts(current_ttl=3600), "TTL drops from 3600 to 60"),
        (
            {"operation": "update"},
            ZoneFacts(current_ttl=3600, zone_record_sets=10, zone_changes_in_flight=3),
            "4 of the 10 record sets",
        ),
    ],
)
def test_each_risk_waits_and_says_why(fields: dict[str, object], facts: ZoneFacts, reason: str) -> None:
    held = verdict(spec(**fields), SETTINGS, facts)
    assert held.required
    assert any(reason in text for text in held.reasons), held.reasons


@pytest.mark.parametrize(
    ("fields", "facts"),
    [
        ({"operation": "update", "ttl": 60}, ZoneFacts(current_ttl=30)),  # raised, not dropped
        ({"operation": "update", "ttl": 300}, ZoneFacts(current_ttl=3600)),  # at the floor
        ({"operation": "create", "ttl": 60}, ZoneFacts()),  # nothing to drop from
        ({"operation": "update"}, ZoneFacts(current_ttl=3600, zone_record_sets=10, zone_changes_in_flight=2)),
        ({"operation": "update"}, ZoneFacts(current_ttl=3600, zone_record_sets=3, zone_changes_in_flight=2)),
    ],
)
def test_what_is_not_a_risk(fields: dict[str, object], facts: ZoneFacts) -> None:
    assert not verdict(spec(**fields), SETTINGS, facts).required


def test_a_risk_the_operator_turned_off_does_not_wait_and_a_dry_run_never_does() -> None:
    deletes_allowed = Settings(dns_zones=["example.test"], approval_risks=["mx"])
    assert not verdict(spec(operation="delete"), deletes_allowed, ZoneFacts()).required
    assert not verdict(spec(operation="delete", dry_run=True), SETTINGS, ZoneFacts()).required


def test_listed_zones_types_and_accounts_still_wait() -> None:
    listed = Settings(
        dns_zones=["example.test"],
        approval_record_types=["TXT"],
        approval_accounts=["acct-1"],
        approval_risks=[],
    )
    held = verdict(spec(record_type="TXT", target="hello"), listed, ZoneFacts())
    assert held.reasons == [
        "record type TXT is listed in APPROVAL_RECORD_TYPES",
        "account acct-1 is listed in APPROVAL_ACCOUNTS",
    ]


def test_an_unknown_risk_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="unknown approval risk"):
        Settings(approval_risks=["deletes"])


def test_one_approver_is_the_default() -> None:
    assert verdict(spec(operation="delete"), SETTINGS, ZoneFacts()).approvers == 1
    assert verdict(spec(), SETTINGS, ZoneFacts()).approvers == 1


def test_a_risk_may_require_more_approvers_and_the_highest_number_wins() -> None:
    written = {"approval_risk_approvers": "delete=3, mx=4"}  # as the environment gives it
    settings = Settings(dns_zones=["example.test"], approval_min_approvers=2, **written)  # type: ignore[arg-type]
    assert settings.approval_risk_approvers == {"delete": 3, "mx": 4}
    assert verdict(spec(operation="delete"), settings, ZoneFacts()).approvers == 3
    mx_delete = spec(operation="delete", record_type="MX", target="mail.example.test", priority=10)
    assert verdict(mx_delete, settings, ZoneFacts()).approvers == 4
    apex = spec(domain="example.test", record_type="TXT", target="v=spf1 -all")
    assert verdict(apex, settings, ZoneFacts()).approvers == 2, "APPROVAL_MIN_APPROVERS for any held request"
    assert verdict(spec(), settings, ZoneFacts()).approvers == 1, "a routine change waits for nobody"


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"approval_risk_approvers": "deletes=2"}, "unknown approval risk"),
        ({"approval_risk_approvers": "delete=0"}, "at least 1"),
        ({"approval_risk_approvers": "delete"}, "risk=N"),
        ({"approval_min_approvers": 0}, "greater than or equal to 1"),
    ],
)
def test_approver_numbers_that_make_no_sense_are_settings_errors(
    fields: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        Settings(**fields)  # type: ignore[arg-type]


def test_zone_and_account_rules_ask_more_approvers_and_the_highest_number_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APPROVAL_ZONE_APPROVERS", "prod.example.test=2, Example.Test.=1")
    monkeypatch.setenv("APPROVAL_ACCOUNT_APPROVERS", "acct-pay=3")
    settings = Settings(dns_zones=["example.test"])
    assert settings.approval_zone_approvers == {"prod.example.test": 2, "example.test": 1}
    assert settings.approval_account_approvers == {"acct-pay": 3}

    assert (
        verdict(spec(operation="delete", domain="db.prod.example.test"), settings, ZoneFacts()).approvers == 2
    )
    assert verdict(spec(operation="delete"), settings, ZoneFacts()).approvers == 1, "not below prod"
    paying = spec(operation="delete", domain="db.prod.example.test", account_id="acct-pay")
    assert verdict(paying, settings, ZoneFacts()).approvers == 3, "the account asks more than the zone"
    routine = verdict(spec(domain="www.prod.example.test", account_id="acct-pay"), settings, ZoneFacts())
    assert not routine.required, "a number of approvers holds nothing by itself (APPROVAL_ZONES does)"


def test_zone_and_account_numbers_never_lower_the_global_ones() -> None:
    settings = Settings(
        dns_zones=["example.test"],
        approval_min_approvers=2,
        approval_risk_approvers="delete=3",  # type: ignore[arg-type]
        approval_zone_approvers="lab.example.test=1",  # type: ignore[arg-type]
        approval_account_approvers="acct-1=1",  # type: ignore[arg-type]
    )
    lab_delete = spec(operation="delete", domain="x.lab.example.test")
    assert verdict(lab_delete, settings, ZoneFacts()).approvers == 3


def test_the_most_specific_zones_risks_replace_approval_risks() -> None:
    settings = Settings(
        dns_zones=["example.test"],
        approval_risks=["mx"],
        approval_zone_risks="lab.example.test=none prod.example.test=delete+ttl_drop db.prod.example.test=mx",  # type: ignore[arg-type]
    )
    assert settings.approval_zone_risks == {
        "lab.example.test": [],
        "prod.example.test": ["delete", "ttl_drop"],
        "db.prod.example.test": ["mx"],
    }
    mx = {"record_type": "MX", "target": "mail.example.test", "priority": 10}
    assert not verdict(spec(domain="lab.example.test", **mx), settings, ZoneFacts()).required
    assert verdict(spec(domain="www.example.test", **mx), settings, ZoneFacts()).required, "APPROVAL_RISKS"
    held = verdict(spec(operation="delete", domain="www.prod.example.test"), settings, ZoneFacts())
    assert held.required and "a delete" in held.reasons[0]
    assert not verdict(spec(domain="www.prod.example.test", **mx), settings, ZoneFacts()).required
    nested = spec(operation="delete", domain="a.db.prod.example.test", **mx)
    assert [r.split(" (")[0] for r in verdict(nested, settings, ZoneFacts()).reasons] == ["an MX change"]
    emergency = verdict(spec(domain="lab.example.test", emergency=True), settings, ZoneFacts())
    assert emergency.required, "an emergency waits for a person in every zone"


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"approval_zone_approvers": "prod.example.test=0"}, "at least 1"),
        ({"approval_zone_approvers": "prod.example.test"}, "name=value"),
        ({"approval_account_approvers": "=2"}, "name=value"),
        ({"approval_zone_risks": "prod.example.test=delete+nope"}, "unknown approval risk"),
    ],
)
def test_zone_and_account_rules_that_make_no_sense_are_settings_errors(
    fields: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        Settings(**fields)  # type: ignore[arg-type]
