"""`dnsorch requests …` against a stand-in API v2 (httpx.MockTransport): what it sends, what it prints."""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from dnsorch.cli.requests import ACTIONS, TARGET_WIDTH, add_requests_parser, run_requests

RID = "3f2b8c1e-5a4d-4e6f-9b0a-1c2d3e4f5a6b"
OTHER = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _no_operator_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A developer's own DNSORCH_API_* (or dev stack key) must not leak into what these tests expect."""
    monkeypatch.delenv("DNSORCH_API_URL", raising=False)
    monkeypatch.delenv("DNSORCH_API_KEY", raising=False)
    monkeypatch.setenv("STATE_DIR", str(tmp_path))


def test_the_dev_stacks_key_is_used_when_no_key_is_given(tmp_path: Path) -> None:
    (tmp_path / "dev-api-key").write_text("dnsorch_0123456789ab_devkey\n")
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    client = httpx.Client(transport=httpx.MockTransport(answer))
    assert run_requests(parse("list"), client=client) == 0
    assert seen[0].headers["Authorization"] == "Bearer dnsorch_0123456789ab_devkey"


def parse(*argv: str) -> argparse.Namespace:
    """The same wiring dnsorch/cli/dispatch.py does: `requests` is one role among others."""
    parser = argparse.ArgumentParser(prog="dnsorch")
    roles = parser.add_subparsers(dest="role", required=True)
    roles.add_parser("api")
    add_requests_parser(roles)
    return parser.parse_args(["requests", *argv])


def run(handler: Handler, *argv: str) -> tuple[int, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    with httpx.Client(transport=httpx.MockTransport(record)) as client:
        return run_requests(parse(*argv), client=client), seen


def answer(body: Any, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def summary(request_id: str = RID, **fields: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "operation": "create",
        "status": "COMPLETED",
        "record_type": "A",
        "domain": "www.example.test",
        "target": "192.0.2.10",
        "account_id": "acct-42",
        "source": "api",
        "created_at": "2025-03-01T10:00:00.123456+00:00",
        "updated_at": "2025-03-01T10:00:05.987654+00:00",
        **fields,
    }


def columns_of(header: str, names: list[str]) -> list[int]:
    return [header.index(name) for name in names]


def test_list_sends_every_filter_as_a_query_param_and_no_auth_header_without_a_key(capsys):
    code, seen = run(
        answer({"items": [], "next_cursor": None}),
        "list",
        "--status=needs_attention",
        "--domain=www.example.test",
        "--zone=example.test",
        "--account=acct-42",
        "--source=kafka",
        "--limit=5",
    )
    assert code == 0
    [request] = seen
    assert request.method == "GET"
    assert str(request.url.copy_with(query=None)) == "http://127.0.0.1:8000/api/v2/dns/requests"
    assert dict(request.url.params) == {
        "status": "NEEDS_ATTENTION",
        "domain": "www.example.test",
        "zone": "example.test",
        "account_id": "acct-42",
        "source": "kafka",
        "limit": "5",
    }
    assert "authorization" not in request.headers
    assert capsys.readouterr().out == "no matching requests\n"


def test_api_key_and_url_from_the_environment_are_used_and_the_key_is_never_printed(monkeypatch, capsys):
    monkeypatch.setenv("DNSORCH_API_URL", "https://dnsorch.internal:8443/")
    monkeypatch.setenv("DNSORCH_API_KEY", "s3cret-token")
    refused = {"error": {"code": "unauthorized", "message": "bad key", "details": []}}
    code, seen = run(answer(refused, 401), "show", RID)
    assert code == 1
    assert seen[0].headers["authorization"] == "Bearer s3cret-token"
    assert str(seen[0].url) == f"https://dnsorch.internal:8443/api/v2/dns/requests/{RID}"
    out, err = capsys.readouterr()
    assert err == "error: unauthorized: bad key\nhint: the API key was refused\n"
    assert "s3cret" not in out + err


def test_options_win_over_the_environment_and_work_before_or_after_the_verb(monkeypatch):
    monkeypatch.setenv("DNSORCH_API_URL", "http://ignored:1")
    monkeypatch.setenv("DNSORCH_API_KEY", "ignored")
    page = answer({"items": [], "next_cursor": None})
    for argv in (
        ("--api", "http://gw.example:9000/dnsorch", "--api-key", "k1", "list"),
        ("list", "--api", "http://gw.example:9000/dnsorch", "--api-key", "k1"),
    ):
        code, [request] = run(page, *argv)
        assert code == 0
        assert str(request.url) == "http://gw.example:9000/dnsorch/api/v2/dns/requests"
        assert request.headers["authorization"] == "Bearer k1"


def test_list_table_stays_aligned_when_domain_and_target_are_long(capsys):
    long_domain = ".".join(["a" * 63] * 3) + ".example.test"
    long_txt = "v=spf1 " + "include:_spf.example.test " * 150
    items = [
        summary(),
        summary(OTHER, status="NEEDS_ATTENTION", record_type="TXT", domain=long_domain, target=long_txt),
    ]
    assert run(answer({"items": items, "next_cursor": None}), "list")[0] == 0
    header, first, second = capsys.readouterr().out.splitlines()
    starts = columns_of(header, ["ID", "STATUS", "OP", "TYPE", "DOMAIN", "TARGET", "ACCOUNT", "UPDATED"])
    for row, status, rtype, domain, target in (
        (first, "COMPLETED", "A", "www.example.test", "192.0.2.10"),
        (second, "NEEDS_ATTENTION", "TXT", long_domain, long_txt[: TARGET_WIDTH - 1] + "…"),
    ):
        values = [row[:36], status, "create", rtype, domain, target, "acct-42", "2025-03-01 10:00:05Z"]
        assert [row.index(value) for value in values] == starts, row
    assert first.startswith(RID) and second.startswith(OTHER)
    assert long_txt not in second


def test_control_characters_from_request_data_are_escaped_not_sent_to_the_terminal(capsys):
    item = summary(target="evil\x1b[2J\nline")
    assert run(answer({"items": [item], "next_cursor": None}), "list")[0] == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "evil\\x1b[2J\\nline" in out
    assert len(out.splitlines()) == 2


def test_all_follows_next_cursor_until_it_is_null_keeping_the_filters(capsys):
    pages = {
        None: {"items": [summary()], "next_cursor": "c1"},
        "c1": {"items": [summary(OTHER)], "next_cursor": "c2"},
        "c2": {"items": [], "next_cursor": None},
    }
    code, seen = run(
        lambda request: httpx.Response(200, json=pages[request.url.params.get("cursor")]),
        "list",
        "--all",
        "--status=FAILED",
        "--limit=1",
    )
    assert code == 0
    assert [r.url.params.get("cursor") for r in seen] == [None, "c1", "c2"]
    assert all(r.url.params["status"] == "FAILED" and r.url.params["limit"] == "1" for r in seen)
    out, err = capsys.readouterr()
    assert [line[:36] for line in out.splitlines()[1:]] == [RID, OTHER]
    assert err == ""


def test_without_all_one_page_is_fetched_and_the_next_cursor_is_named(capsys):
    code, seen = run(answer({"items": [summary()], "next_cursor": "c1"}), "list", "--cursor", "c0")
    assert code == 0
    assert [r.url.params.get("cursor") for r in seen] == ["c0"]
    assert "--cursor c1" in capsys.readouterr().err


def test_a_cursor_repeated_by_the_api_stops_instead_of_looping(capsys):
    code, seen = run(answer({"items": [summary()], "next_cursor": "same"}), "list", "--all")
    assert code == 1
    assert len(seen) == 2
    assert "cursor 'same' twice" in capsys.readouterr().err


def test_json_prints_the_api_answer_and_merges_pages_with_all(capsys):
    pages = {
        None: {"items": [summary()], "next_cursor": "c1"},
        "c1": {"items": [summary(OTHER)], "next_cursor": None},
    }
    handler: Handler = lambda request: httpx.Response(200, json=pages[request.url.params.get("cursor")])  # noqa: E731
    assert run(handler, "list", "--all", "--json")[0] == 0
    assert json.loads(capsys.readouterr().out) == {"items": [summary(), summary(OTHER)], "next_cursor": None}
    detail = {**summary(), "comment": None, "config": {"ttl": 300}, "record": None, "timeline": []}
    assert run(answer(detail), "--json", "show", RID)[0] == 0
    assert json.loads(capsys.readouterr().out) == detail


def test_show_prints_fields_then_the_record_then_an_aligned_timeline(capsys):
    long_txt = "x" * 500
    detail = {
        **summary(record_type="TXT", target=long_txt),
        "comment": "web front",
        "config": {"ttl": 300, "priority": None, "extra_config": {}},
        "workflow_id": f"dns-request-{RID}",
        "record": {"record_type": "TXT", "ttl": 300, "provisioned_at": "2025-03-01T10:00:05+01:00"},
        "timeline": [
            {
                "at": "2025-03-01T10:00:00Z",
                "status": "PENDING",
                "step": "accept",
                "actor": "api",
                "message": "accepted",
            },
            {
                "at": "2025-03-01T10:00:01Z",
                "step": "apply",
                "actor": "worker",
                "message": "nsupdate refused\nREFUSED",
            },
            {
                "at": "2025-03-01T10:00:05Z",
                "status": "NEEDS_ATTENTION",
                "step": "wait",
                "actor": "ops@example",
                "message": "",
            },
        ],
    }
    code, [request] = run(answer(detail), "show", RID)
    assert code == 0
    assert (request.method, request.url.path) == ("GET", f"/api/v2/dns/requests/{RID}")
    lines = capsys.readouterr().out.splitlines()
    assert f"request_id:   {RID}" in lines
    assert f"target:       {long_txt}" in lines
    assert 'config:       {"ttl": 300, "priority": null, "extra_config": {}}' in lines
    assert "created_at:   2025-03-01 10:00:00Z" in lines
    record_at = lines.index("record:")
    assert lines[record_at + 1 : record_at + 4] == [
        "  record_type:     TXT",
        "  ttl:             300",
        "  provisioned_at:  2025-03-01 09:00:05Z",
    ]
    header, *rows = lines[lines.index("timeline:") + 1 :]
    starts = columns_of(header, ["AT", "STATUS", "ACTOR", "MESSAGE"])
    assert [rows[0].index(v) for v in ("2025", "PENDING", "api", "accepted")] == starts
    assert [rows[1].index(v) for v in ("2025", " - ", "worker", "nsupdate refused\\nREFUSED")] == [
        0,
        starts[1] - 1,
        *starts[2:],
    ]
    assert rows[2].endswith("ops@example  -")
    assert rows[2].index("NEEDS_ATTENTION") == starts[1]


def test_show_says_when_nothing_is_provisioned(capsys):
    assert run(answer({**summary(), "record": None, "timeline": []}), "show", RID)[0] == 0
    out = capsys.readouterr().out
    assert "record: none provisioned" in out
    assert out.endswith("timeline:\n  (empty)\n")


@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_action_posts_its_note_and_prints_one_line(action, capsys):
    reply = {"request_id": RID, "status": "IN_PROGRESS", "detail": "signalled"}
    code, [request] = run(answer(reply), action, RID.upper(), "--note", "fixed the TSIG key", "--api-key=k")
    assert code == 0
    assert request.method == "POST"
    assert request.url.path == f"/api/v2/dns/requests/{RID}/actions/{action}"
    assert json.loads(request.content) == {"note": "fixed the TSIG key"}
    assert request.headers["authorization"] == "Bearer k"
    assert capsys.readouterr().out == f"{action} {RID}: IN_PROGRESS — signalled\n"


def test_an_action_without_a_note_sends_an_empty_object(capsys):
    code, [request] = run(answer({"request_id": RID, "status": "CANCELLED", "detail": ""}), "cancel", RID)
    assert code == 0
    assert json.loads(request.content) == {}
    assert capsys.readouterr().out == f"cancel {RID}: CANCELLED\n"


@pytest.mark.parametrize("argv", [("show", RID), ("retry", RID)])
def test_404_reads_no_such_request_and_exits_1(argv, capsys):
    missing = {"error": {"code": "not_found", "message": f"request {RID} not found", "details": []}}
    assert run(answer(missing, 404), *argv)[0] == 1
    assert capsys.readouterr().err == f"error: not_found: no such request {RID}\n"


def test_a_refused_action_prints_code_message_and_details_not_already_said_then_exits_1(capsys):
    refused = {
        "error": {
            "code": "illegal_transition",
            "message": "COMPLETED → IN_PROGRESS is not allowed",
            "details": [
                {"field": "status", "reason": "request is COMPLETED"},
                {"field": "status", "reason": "COMPLETED → IN_PROGRESS is not allowed"},
            ],
        }
    }
    assert run(answer(refused, 409), "retry", RID)[0] == 1
    assert capsys.readouterr().err == (
        "error: illegal_transition: COMPLETED → IN_PROGRESS is not allowed\n  status: request is COMPLETED\n"
    )


def test_an_error_page_that_is_not_json_still_reads(capsys):
    code, _ = run(lambda request: httpx.Response(502, text="<html>bad gateway</html>"), "list")
    assert code == 1
    assert capsys.readouterr().err == "error: http_502: Bad Gateway\n"


def test_401_without_a_key_hints_at_the_variable(capsys):
    refused = {"error": {"code": "unauthorized", "message": "missing bearer token", "details": []}}
    assert run(answer(refused, 401), "list")[0] == 1
    assert "hint: set DNSORCH_API_KEY (or --api-key)" in capsys.readouterr().err


def test_an_unreachable_api_exits_3_with_a_hint_naming_the_url(capsys):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    code, _ = run(refuse, "list", "--api", "http://ops:pw@10.0.0.9:8000")
    assert code == 3
    error, hint = capsys.readouterr().err.splitlines()
    assert error == "error: cannot reach the API: ConnectError [Errno 111] Connection refused"
    assert hint.startswith("hint: nothing answers at http://10.0.0.9:8000;")
    assert "pw" not in hint


def test_the_default_client_reports_a_closed_port_as_unreachable(capsys):
    """No client given: the CLI builds its own, and a real refused connection still maps to exit 3."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert run_requests(parse("list", "--api", f"http://127.0.0.1:{port}")) == 3
    assert f"http://127.0.0.1:{port}" in capsys.readouterr().err


def test_a_slow_answer_to_an_action_warns_it_may_still_happen(capsys):
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    assert run(slow, "approve", RID)[0] == 3
    assert "the action may still happen" in capsys.readouterr().err


@pytest.mark.parametrize("api", ["127.0.0.1:8000", "ftp://host", "http://"])
def test_an_api_that_is_not_an_http_url_is_a_usage_error_and_sends_nothing(api, capsys):
    code, seen = run(answer({}), "list", "--api", api)
    assert (code, seen) == (2, [])
    assert capsys.readouterr().err.startswith("error: --api needs an http(s) URL")


@pytest.mark.parametrize(
    "argv", [("show", "not-a-uuid"), ("approve",), ("list", "--limit", "0"), (), ("frobnicate", RID)]
)
def test_malformed_commands_exit_2_before_any_request(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        parse(*argv)
    assert exited.value.code == 2


def test_a_success_that_is_not_a_json_object_is_an_error(capsys):
    code, _ = run(lambda request: httpx.Response(200, text="ok"), "show", RID)
    assert code == 1
    assert "bad_response" in capsys.readouterr().err


def test_scheduled_lists_scheduled_requests_soonest_first_with_their_time(capsys):
    later = summary(
        OTHER, status="SCHEDULED", not_before="2027-02-01T08:00:00+00:00", domain="b.example.test"
    )
    sooner = summary(RID, status="SCHEDULED", not_before="2027-01-31T22:00:00+01:00", domain="a.example.test")
    code, [request] = run(
        answer({"items": [later, sooner], "next_cursor": None}), "scheduled", "--zone=example.test"
    )
    assert code == 0
    assert dict(request.url.params) == {"status": "SCHEDULED", "zone": "example.test"}
    header, first, second = capsys.readouterr().out.splitlines()
    assert header.split()[:2] == ["ID", "DUE"]
    assert first.startswith(RID) and "2027-01-31 21:00:00Z" in first
    assert second.startswith(OTHER) and "2027-02-01 08:00:00Z" in second


def test_scheduled_says_when_nothing_waits(capsys):
    assert run(answer({"items": [], "next_cursor": None}), "scheduled")[0] == 0
    assert capsys.readouterr().out == "no scheduled requests\n"


def test_reschedule_posts_the_new_time_and_note_and_prints_one_line(capsys):
    reply = {"request_id": RID, "status": "SCHEDULED", "detail": "scheduled for 2027-03-01T09:30:00+00:00"}
    code, [request] = run(
        answer(reply), "reschedule", RID, "--at", "2027-03-01T10:30:00+01:00", "--note", "after the freeze"
    )
    assert code == 0
    assert (request.method, request.url.path) == ("POST", f"/api/v2/dns/requests/{RID}/schedule")
    assert json.loads(request.content) == {
        "not_before": "2027-03-01T09:30:00+00:00",
        "note": "after the freeze",
    }
    assert capsys.readouterr().out == (
        f"reschedule {RID}: SCHEDULED — scheduled for 2027-03-01T09:30:00+00:00\n"
    )


def test_reschedule_takes_a_time_from_now(capsys):
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC)
    code, [request] = run(
        answer({"request_id": RID, "status": "SCHEDULED"}), "reschedule", RID, "--at", "+90m"
    )
    sent = datetime.fromisoformat(json.loads(request.content)["not_before"])
    assert code == 0 and before + timedelta(minutes=90) <= sent <= datetime.now(UTC) + timedelta(minutes=90)


@pytest.mark.parametrize("at", ["2027-03-01T10:30:00", "tomorrow", "+5x", ""])
def test_reschedule_without_a_usable_time_is_a_usage_error(at, capsys):
    with pytest.raises(SystemExit) as exited:
        parse("reschedule", RID, "--at", at)
    assert exited.value.code == 2
    assert "--at" in capsys.readouterr().err


def test_a_refused_reschedule_prints_the_apis_reason(capsys):
    refused = {
        "error": {"code": "illegal_transition", "message": "only a SCHEDULED request can be rescheduled"}
    }
    code, _ = run(answer(refused, 409), "reschedule", RID, "--at", "+1h")
    assert code == 1
    assert "only a SCHEDULED request can be rescheduled" in capsys.readouterr().err


def test_scheduled_with_more_pages_says_to_add_all(capsys):
    page = {"items": [summary(status="SCHEDULED", not_before="2027-01-31T22:00:00Z")], "next_cursor": "c2"}
    assert run(answer(page), "scheduled")[0] == 0
    assert "add --all" in capsys.readouterr().err
