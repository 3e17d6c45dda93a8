"""Freeze windows' rules, pure: an emergency is always a risk a person approves (it passes freezes),
whatever APPROVAL_RISKS says; a window's times and zone are checked as the API takes them; and
`dnsorch freezes …` sends what the API expects (httpx.MockTransport)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from dnsorch.cli.freezes import add_freezes_parser, run_freezes
from dnsorch.contracts import InvalidRequest, ZoneFacts
from dnsorch.requests.approval import verdict
from dnsorch.requests.freezes import check_window
from dnsorch.requests.validation import request_hash
from dnsorch.settings import Settings
from tests.fixtures.specs import request_spec

NOW = datetime(2027, 1, 1, 12, tzinfo=UTC)
ZONES = ["example.test", "2.0.192.in-addr.arpa"]


@pytest.mark.parametrize("risks", [["delete"], []])
def test_an_emergency_is_a_risk_a_person_approves(risks: list[str]) -> None:
    held = verdict(request_spec(emergency=True), Settings(dns_zones=ZONES, approval_risks=risks), ZoneFacts())
    assert held.required and any("emergency" in reason for reason in held.reasons)
    assert not verdict(request_spec(), Settings(dns_zones=ZONES, approval_risks=risks), ZoneFacts()).required


def test_an_emergency_needs_as_many_approvers_as_any_held_request() -> None:
    settings = Settings(dns_zones=ZONES, approval_min_approvers=2)
    assert verdict(request_spec(emergency=True), settings, ZoneFacts()).approvers == 2


def test_a_body_without_the_emergency_flag_keeps_its_fingerprint() -> None:
    from api.v2.schemas import RequestCreateV2

    body = {
        "context": {"account_id": "acct-42", "source": "api"},
        "resource": {"record_type": "A", "domain": "www.example.test", "target": "192.0.2.1"},
    }
    plain = request_hash(RequestCreateV2.model_validate(body), "create")
    assert plain == request_hash(RequestCreateV2.model_validate({**body, "emergency": False}), "create")
    assert plain != request_hash(RequestCreateV2.model_validate({**body, "emergency": True}), "create")


def test_a_window_is_stored_in_utc_for_a_managed_zone() -> None:
    plus_two = datetime(2027, 1, 1, 16, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    zone, starts, ends = check_window("Example.Test.", None, plus_two, ZONES, NOW)
    assert (zone, starts, ends) == ("example.test", NOW, datetime(2027, 1, 1, 16, tzinfo=UTC))
    assert ends.tzinfo == UTC
    assert check_window(None, NOW - timedelta(days=1), NOW + timedelta(hours=1), ZONES, NOW)[0] is None


@pytest.mark.parametrize(
    ("zone", "starts", "ends", "field"),
    [
        ("example.test", None, datetime(2027, 1, 2), "ends_at"),
        ("example.test", datetime(2027, 1, 2), NOW + timedelta(days=2), "starts_at"),
        ("example.test", NOW + timedelta(days=2), NOW + timedelta(days=1), "ends_at"),
        ("example.test", NOW - timedelta(days=2), NOW - timedelta(seconds=1), "ends_at"),
        ("example.test", None, NOW + timedelta(days=367), "ends_at"),
        ("other.test", None, NOW + timedelta(days=1), "zone"),
    ],
)
def test_a_window_it_cannot_keep_names_its_field(
    zone: str, starts: datetime | None, ends: datetime, field: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_window(zone, starts, ends, ZONES, NOW)
    assert refused.value.field == field


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dnsorch")
    add_freezes_parser(parser.add_subparsers(dest="role", required=True))
    return parser.parse_args(["freezes", *argv])


WINDOW = {
    "id": "3f2b8c1e-5a4d-4e6f-9b0a-1c2d3e4f5a6b",
    "zone": None,
    "starts_at": "2027-01-01T12:00:00+00:00",
    "ends_at": "2027-01-02T12:00:00+00:00",
    "reason": "release night",
    "created_by": "alice (operator)",
    "created_at": "2027-01-01T11:00:00+00:00",
    "cancelled_at": None,
}


def test_the_cli_adds_lists_and_ends_freezes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATE_DIR", str(tmp_path))
    monkeypatch.delenv("DNSORCH_API_URL", raising=False)
    monkeypatch.setenv("DNSORCH_API_KEY", "dnsorch_0123456789ab_key")
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"items": [WINDOW]})
        return httpx.Response(201 if request.method == "POST" else 200, json=WINDOW)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        added = parse("add", "--zone", "example.test", "--until", "2027-01-02T12:00:00Z", "--reason", "x")
        assert run_freezes(added, client=client) == 0
        assert run_freezes(parse("list"), client=client) == 0
        assert run_freezes(parse("end", WINDOW["id"]), client=client) == 0  # type: ignore[arg-type]
    post, get, end = seen
    assert (post.method, post.url.path) == ("POST", "/api/v2/freezes")
    assert json.loads(post.content) == {
        "zone": "example.test",
        "ends_at": "2027-01-02T12:00:00+00:00",
        "reason": "x",
    }
    assert (get.method, get.url.path) == ("GET", "/api/v2/freezes")
    assert (end.method, end.url.path) == ("DELETE", f"/api/v2/freezes/{WINDOW['id']}")
    printed = capsys.readouterr().out
    assert "(all zones)" in printed and "release night" in printed


def test_the_cli_refuses_a_time_without_an_offset() -> None:
    with pytest.raises(SystemExit):
        parse("add", "--until", "2027-01-02T12:00:00", "--reason", "x")
