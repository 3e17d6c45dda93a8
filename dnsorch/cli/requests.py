"""`dnsorch requests …`: find, inspect and act on DNS requests from a terminal, through API v2."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

import httpx

from dnsorch.cli.api_client import ApiClient, CliError, api_for, report
from dnsorch.cli.arguments import api_options, at_time, uuid_of
from dnsorch.cli.output import cell, pairs, table, when

REQUESTS_PATH = "/api/v2/dns/requests"
ACTIONS = {
    "approve": "let a PENDING_APPROVAL request go ahead",
    "reject": "refuse a PENDING_APPROVAL request; nothing touches DNS",
    "retry": "run the DNS step of a NEEDS_ATTENTION request again",
    "resolve": "mark a NEEDS_ATTENTION request COMPLETED by hand (fixed outside)",
    "fail": "mark a NEEDS_ATTENTION request FAILED",
    "cancel": "stop a request before it is applied",
    "rollback": "undo a NEEDS_ATTENTION request: DNS serves again what its plan saw before",
    "let_through": "let a FROZEN request go ahead now, in spite of the freeze (say why in --note)",
}
LIST_FILTERS = ("status", "domain", "zone", "account_id", "source", "limit", "cursor")
LIST_COLUMNS = ("ID", "STATUS", "OP", "TYPE", "DOMAIN", "TARGET", "ACCOUNT", "UPDATED")
SUMMARY_FIELDS = ("request_id", "status", "operation", "record_type", "domain", "target", "account_id")
SHOW_FIELDS = (*SUMMARY_FIELDS, "source", "comment", "config", "workflow_id", "created_at", "updated_at")
SCHEDULED_COLUMNS = ("ID", "DUE", "OP", "TYPE", "DOMAIN", "TARGET", "ACCOUNT")
TARGET_WIDTH = 60
"""A TXT target may be 4000 characters: `list` cuts it to keep one row per line; `show` prints it whole."""


_request_id = uuid_of("request")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {text!r}")
    return int(text)


def add_requests_parser(roles: argparse._SubParsersAction) -> None:
    """Adds `requests` and its verbs; the connection options go before or after the verb."""
    common = api_options()
    parser = roles.add_parser("requests", parents=[common], help="list, inspect and act on DNS requests")
    parser.description = __doc__
    verbs = parser.add_subparsers(dest="requests_command", metavar="COMMAND", required=True)
    listing = verbs.add_parser("list", parents=[common], help="requests matching the filters")
    listing.add_argument("--status", type=str.upper, help="e.g. NEEDS_ATTENTION, PENDING_APPROVAL")
    listing.add_argument("--domain")
    listing.add_argument("--zone")
    listing.add_argument("--account", dest="account_id", metavar="ACCOUNT")
    listing.add_argument("--source", help="api, kafka, drift, ptr or adoption")
    listing.add_argument("--limit", type=_positive_int, metavar="N", help="requests per page")
    listing.add_argument("--cursor", help="start at this page (a next_cursor the API gave)")
    listing.add_argument("--all", action="store_true", help="follow next_cursor to the last page")
    show = verbs.add_parser("show", parents=[common], help="a request, its record and its timeline")
    show.add_argument("request_id", type=_request_id, metavar="ID")
    waiting = verbs.add_parser("scheduled", parents=[common], help="SCHEDULED requests, soonest first")
    waiting.add_argument("--domain")
    waiting.add_argument("--zone")
    waiting.add_argument("--account", dest="account_id", metavar="ACCOUNT")
    waiting.add_argument("--limit", type=_positive_int, metavar="N", help="requests per page")
    waiting.add_argument("--all", action="store_true", help="every page, not just the first")
    move = verbs.add_parser("reschedule", parents=[common], help="move a SCHEDULED request to another time")
    move.add_argument("request_id", type=_request_id, metavar="ID")
    move.add_argument(
        "--at", required=True, type=at_time, metavar="TIME", help="e.g. 2027-01-31T22:00:00Z, or +2h from now"
    )
    move.add_argument("--note", metavar="TEXT", help="why; recorded in the request's timeline")
    extend = verbs.add_parser(
        "extend", parents=[common], help="move an expiring record's expiry (expires_at)"
    )
    extend.add_argument("request_id", type=_request_id, metavar="ID")
    extend.add_argument(
        "--until",
        required=True,
        type=at_time,
        metavar="TIME",
        help="e.g. 2027-03-01T00:00:00Z, or +30d from now",
    )
    extend.add_argument("--note", metavar="TEXT", help="why; recorded in the request's timeline")
    for action, purpose in ACTIONS.items():
        verb = verbs.add_parser(action, parents=[common], help=purpose)
        verb.add_argument("request_id", type=_request_id, metavar="ID")
        verb.add_argument("--note", metavar="TEXT", help="why; recorded in the request's timeline")


def _list(api: ApiClient, args: argparse.Namespace) -> dict[str, Any]:
    """With --all, pages are fetched until next_cursor is null; a cursor seen twice would loop forever."""
    params = {name: getattr(args, name) for name in LIST_FILTERS if getattr(args, name) is not None}
    page = api.call("GET", REQUESTS_PATH, params=params)
    items, seen = list(page.get("items") or []), {args.cursor}
    while args.all and (cursor := page.get("next_cursor")):
        if cursor in seen:
            raise CliError(f"bad_response: the API gave cursor {cursor!r} twice; stopped to avoid a loop")
        seen.add(cursor)
        page = api.call("GET", REQUESTS_PATH, params={**params, "cursor": cursor})
        items += page.get("items") or []
    return {**page, "items": items}


def _render_list(result: dict[str, Any]) -> str:
    rows = [
        [
            *(cell(item.get(k), TARGET_WIDTH if k == "target" else None) for k in SUMMARY_FIELDS),
            when(item.get("updated_at")),
        ]
        for item in result["items"]
    ]
    return table(LIST_COLUMNS, rows) if rows else "no matching requests"


def _scheduled(api: ApiClient, args: argparse.Namespace) -> dict[str, Any]:
    """The SCHEDULED requests, soonest first (the API lists newest first)."""
    page = _list(
        api, argparse.Namespace(**{**vars(args), "status": "SCHEDULED", "source": None, "cursor": None})
    )
    page["items"] = sorted(page["items"], key=lambda item: _due(item) or datetime.max.replace(tzinfo=UTC))
    return page


def _due(item: dict[str, Any]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(item.get("not_before") or "")
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _render_scheduled(result: dict[str, Any]) -> str:
    rows = [
        [
            cell(item.get("request_id")),
            when(item.get("not_before")),
            *(cell(item.get(k), TARGET_WIDTH if k == "target" else None) for k in SUMMARY_FIELDS[2:]),
        ]
        for item in result["items"]
    ]
    return table(SCHEDULED_COLUMNS, rows) if rows else "no scheduled requests"


def _render_show(request: dict[str, Any]) -> str:
    lines = pairs((field, request.get(field)) for field in SHOW_FIELDS)
    record = request.get("record")
    lines += ["", "record:" if isinstance(record, dict) else "record: none provisioned"]
    lines += pairs(record.items(), indent="  ") if isinstance(record, dict) else []
    events = [e for e in request.get("timeline") or [] if isinstance(e, dict)]
    rows = [
        [when(e.get("at")), cell(e.get("status")), cell(e.get("actor")), cell(e.get("message"))]
        for e in events
    ]
    lines += ["", "timeline:", table(("AT", "STATUS", "ACTOR", "MESSAGE"), rows) if rows else "  (empty)"]
    return "\n".join(lines)


def _render_action(action: str, answer: dict[str, Any]) -> str:
    detail = f" — {cell(answer['detail'])}" if answer.get("detail") else ""
    return f"{action} {cell(answer.get('request_id'))}: {cell(answer.get('status'))}{detail}"


def run_requests(args: argparse.Namespace, *, client: httpx.Client | None = None) -> int:
    """Runs one parsed `dnsorch requests` command and returns its exit code (0, 1 API error, 2 usage,
    3 unreachable). `client` is only the transport (tests pass an `httpx.MockTransport` one): the URL
    and the token always come from the options, so tests see exactly what would go on the wire."""
    command, as_json = args.requests_command, getattr(args, "json", False)
    try:
        with api_for(args, client) as api:
            if command == "list":
                data = _list(api, args)
                text = _render_list(data)
            elif command == "scheduled":
                data = _scheduled(api, args)
                text = _render_scheduled(data)
            elif command == "reschedule":
                body = {"not_before": args.at, **({} if args.note is None else {"note": args.note})}
                path = f"{REQUESTS_PATH}/{args.request_id}/schedule"
                data = api.call("POST", path, args.request_id, json=body)
                text = _render_action(command, data)
            elif command == "extend":
                body = {"expires_at": args.until, **({} if args.note is None else {"note": args.note})}
                data = api.call(
                    "POST", f"{REQUESTS_PATH}/{args.request_id}/expiry", args.request_id, json=body
                )
                text = f"extend {cell(data.get('request_id'))}: {cell(data.get('detail'))}"
            elif command == "show":
                data = api.call("GET", f"{REQUESTS_PATH}/{args.request_id}", args.request_id)
                text = _render_show(data)
            else:
                body = {} if args.note is None else {"note": args.note}
                path = f"{REQUESTS_PATH}/{args.request_id}/actions/{command}"
                data = api.call("POST", path, args.request_id, json=body)
                text = _render_action(command, data)
    except CliError as exc:
        return report(exc)
    print(json.dumps(data, indent=2, ensure_ascii=False) if as_json else text)
    if command == "list" and data.get("next_cursor") and not as_json:
        print(f"more: add --cursor {data['next_cursor']} for the next page, or --all", file=sys.stderr)
    if command == "scheduled" and data.get("next_cursor") and not as_json:
        print("more are scheduled: add --all to see every one, soonest first", file=sys.stderr)
    return 0
