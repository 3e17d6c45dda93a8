"""`dnsorch requests extend` against a stand-in API v2 (httpx.MockTransport): it posts the new expiry
and the note, prints one line, and refuses a time it cannot send."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx
import pytest

from dnsorch.cli.requests import add_requests_parser, run_requests

RID = "3f2b8c1e-5a4d-4e6f-9b0a-1c2d3e4f5a6b"


@pytest.fixture(autouse=True)
def _no_operator_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DNSORCH_API_URL", raising=False)
    monkeypatch.setenv("DNSORCH_API_KEY", "dnsorch_0123456789ab_opkey")
    monkeypatch.setenv("STATE_DIR", str(tmp_path))


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dnsorch")
    add_requests_parser(parser.add_subparsers(dest="role", required=True))
    return parser.parse_args(["requests", *argv])


def test_extend_posts_the_new_expiry_and_note_and_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        expires = "2027-03-01T09:30:00+00:00"
        return httpx.Response(
            200, json={"request_id": RID, "expires_at": expires, "detail": f"expires at {expires}"}
        )

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        code = run_requests(
            parse("extend", RID, "--until", "2027-03-01T10:30:00+01:00", "--note", "still needed"),
            client=client,
        )
    assert code == 0
    [request] = seen
    assert (request.method, request.url.path) == ("POST", f"/api/v2/dns/requests/{RID}/expiry")
    assert json.loads(request.content) == {"expires_at": "2027-03-01T09:30:00+00:00", "note": "still needed"}
    assert capsys.readouterr().out == f"extend {RID}: expires at 2027-03-01T09:30:00+00:00\n"


def test_a_refused_extension_prints_the_apis_reason(capsys: pytest.CaptureFixture[str]) -> None:
    refused = {"error": {"code": "illegal_transition", "message": "this request set no expiry (expires_at)"}}
    with httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(409, json=refused))) as client:
        code = run_requests(parse("extend", RID, "--until", "+30d"), client=client)
    assert code == 1 and "this request set no expiry" in capsys.readouterr().err


def test_extend_without_an_offset_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("extend", RID, "--until", "2027-03-01T10:30:00")
    assert exited.value.code == 2 and "--until" in capsys.readouterr().err
