"""`dnsorch requests …`: find, inspect and act on DNS requests from a terminal, through API v2."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

DEFAULT_API_URL = "http://127.0.0.1:8000"
REQUESTS_PATH = "/api/v2/dns/requests"
ACTIONS = {
    "approve": "let a PENDING_APPROVAL request go ahead",
    "reject": "refuse a PENDING_APPROVAL request; nothing touches DNS",
    "retry": "run the DNS step of a NEEDS_ATTENTION request again",
    "resolve": "mark a NEEDS_ATTENTION request COMPLETED by hand (fixed outside)",
    "fail": "mark a NEEDS_ATTENTION request FAILED",
    "cancel": "stop a request before it is applied",
    "rollback": "undo a NEEDS_ATTENTION request: DNS serves again what its plan saw before",
}
LIST_FILTERS = ("status", "domain", "zone", "account_id", "source", "limit", "cursor")
LIST_COLUMNS = ("ID", "STATUS", "OP", "TYPE", "DOMAIN", "TARGET", "ACCOUNT", "UPDATED")
SUMMARY_FIELDS = ("request_id", "status", "operation", "record_type", "domain", "target", "account_id")
SHOW_FIELDS = (*SUMMARY_FIELDS, "source", "comment", "config", "workflow_id", "created_at", "updated_at")
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""Actions are Temporal Updates the API waits for, so answers get time; an absent server is told quickly."""
TARGET_WIDTH = 60
"""A TXT target may be 4000 characters: `list` cuts it to keep one row per line; `show` prints it whole."""
EXIT_ERROR, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


class CliError(Exception):
    """Ends the command with `error: …` (and maybe a hint) on stderr; raised where the problem is seen."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR, hint: str | None = None) -> None:
        super().__init__(message)
        self.exit_code, self.hint = exit_code, hint


def _request_id(text: str) -> str:
    """Checked locally so a mistyped id is a usage error (exit 2), not a round trip and a 422."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a request id (a UUID): {text!r}") from None


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {text!r}")
    return int(text)


def add_requests_parser(roles: argparse._SubParsersAction) -> None:
    """Adds `requests` and its verbs. The connection options are accepted before or after the verb;
    SUPPRESS as their default keeps the verb's parser from overwriting a value given before it."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--api", metavar="URL", help=f"base URL ($DNSORCH_API_URL, else {DEFAULT_API_URL})")
    common.add_argument(
        "--api-key",
        metavar="KEY",
        help="bearer token ($DNSORCH_API_KEY, else the dev stack's .dnsorch/dev-api-key; "
        "prefer the variable: arguments show in ps)",
    )
    common.add_argument("--json", action="store_true", help="print the API's JSON instead of tables")
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
    for action, purpose in ACTIONS.items():
        verb = verbs.add_parser(action, parents=[common], help=purpose)
        verb.add_argument("request_id", type=_request_id, metavar="ID")
        verb.add_argument("--note", metavar="TEXT", help="why; recorded in the request's timeline")


class _Api:
    """The v2 calls the CLI makes: base URL, bearer token and the mapping of failures to exit codes."""

    def __init__(self, http: httpx.Client, base_url: str, key: str | None) -> None:
        self.http, self.base_url, self.key = http, base_url, key
        self.shown_url = str(httpx.URL(base_url).copy_with(username=None, password=None))

    def call(self, method: str, path: str, about: str | None = None, **kw: Any) -> dict[str, Any]:
        """`about` names the request a 404 refers to; `kw` goes to httpx (params, json)."""
        headers = {"Accept": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        try:
            response = self.http.request(method, self.base_url + path, headers=headers, **kw)
        except httpx.TransportError as exc:
            hint = f"nothing answers at {self.shown_url}; start the API or set --api / DNSORCH_API_URL"
            if isinstance(exc, httpx.ReadTimeout) and method == "POST":
                hint = f"{self.shown_url} was slow to answer; the action may still happen: see `show`"
            raise CliError(
                f"cannot reach the API: {type(exc).__name__} {exc}", EXIT_UNREACHABLE, hint
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict):
            return body
        if response.is_success:
            raise CliError(
                f"bad_response: {method} {path} answered {response.status_code}, not a JSON object"
            )
        raise self._error(response, body, about)

    def _error(self, response: httpx.Response, body: Any, about: str | None) -> CliError:
        """The API's one error shape becomes `code: message`; another body (a proxy's page) still reads."""
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = _cell(error.get("code") or f"http_{response.status_code}")
        message = _cell(error.get("message") or response.reason_phrase)
        if response.status_code == 404 and about:
            message = f"no such request {about}"
        for detail in (d for d in error.get("details") or [] if isinstance(d, dict)):
            reason = _cell(detail.get("reason"))
            message += "" if reason in message else f"\n  {_cell(detail.get('field'))}: {reason}"
        hint = None
        if response.status_code in (401, 403):
            hint = "the API key was refused" if self.key else "set DNSORCH_API_KEY (or --api-key)"
        return CliError(f"{code}: {message}", EXIT_ERROR, hint)


def _base_url(given: str | None) -> str:
    """Checked first so `--api 127.0.0.1:8000` is a usage error rather than a puzzling network one."""
    text = given or os.environ.get("DNSORCH_API_URL") or DEFAULT_API_URL
    try:
        url: httpx.URL | None = httpx.URL(text)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise CliError(f"--api needs an http(s) URL such as {DEFAULT_API_URL}, not {text!r}", EXIT_USAGE)
    return text.rstrip("/")


def _cell(value: Any, width: int | None = None) -> str:
    """Text that is safe on a terminal: request strings come from other teams and Kafka, so control
    characters (escape sequences, newlines) are shown escaped instead of moving the cursor."""
    if value is None or value == "":
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
    return text[: width - 1] + "…" if width and len(text) > width else text


def _when(value: Any) -> str:
    """UTC to the second (naive times are the server's UTC): enough to order events, short for a table."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return _cell(value)
    return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell, except the last, so one long message moves nothing else."""
    table = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in table
    )


def _pairs(items: Iterable[tuple[str, Any]], indent: str = "") -> list[str]:
    pairs = [(key, _when(value) if key.endswith("_at") else _cell(value)) for key, value in items]
    width = max((len(key) for key, _ in pairs), default=0) + 1
    return [f"{indent}{key + ':':<{width}}  {value}" for key, value in pairs]


def _list(api: _Api, args: argparse.Namespace) -> dict[str, Any]:
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
            *(_cell(item.get(k), TARGET_WIDTH if k == "target" else None) for k in SUMMARY_FIELDS),
            _when(item.get("updated_at")),
        ]
        for item in result["items"]
    ]
    return _table(LIST_COLUMNS, rows) if rows else "no matching requests"


def _render_show(request: dict[str, Any]) -> str:
    lines = _pairs((field, request.get(field)) for field in SHOW_FIELDS)
    record = request.get("record")
    lines += ["", "record:" if isinstance(record, dict) else "record: none provisioned"]
    lines += _pairs(record.items(), indent="  ") if isinstance(record, dict) else []
    events = [e for e in request.get("timeline") or [] if isinstance(e, dict)]
    rows = [
        [_when(e.get("at")), _cell(e.get("status")), _cell(e.get("actor")), _cell(e.get("message"))]
        for e in events
    ]
    lines += ["", "timeline:", _table(("AT", "STATUS", "ACTOR", "MESSAGE"), rows) if rows else "  (empty)"]
    return "\n".join(lines)


def _render_action(action: str, answer: dict[str, Any]) -> str:
    detail = f" — {_cell(answer['detail'])}" if answer.get("detail") else ""
    return f"{action} {_cell(answer.get('request_id'))}: {_cell(answer.get('status'))}{detail}"


def _dev_key() -> str | None:
    """The admin key `make run` wrote, so a developer's CLI works against the dev stack as is."""
    state_dir = Path(os.environ.get("STATE_DIR") or Path(__file__).resolve().parent.parent / ".dnsorch")
    try:
        return (state_dir / "dev-api-key").read_text().strip() or None
    except OSError:
        return None


@contextlib.contextmanager
def api_for(args: argparse.Namespace, client: httpx.Client | None) -> Iterator[_Api]:
    """The API the options name, with the token from them, $DNSORCH_API_KEY or the dev stack.
    `client` is only the transport (tests pass an `httpx.MockTransport` one)."""
    base_url = _base_url(getattr(args, "api", None))
    key = getattr(args, "api_key", None) or os.environ.get("DNSORCH_API_KEY") or _dev_key()
    opened = contextlib.nullcontext(client) if client is not None else httpx.Client(timeout=TIMEOUT)
    with opened as http:
        yield _Api(http, base_url, key)


def report(exc: CliError) -> int:
    """`error: …` (and a hint) on stderr; the command's exit code."""
    print(f"error: {exc}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {exc.hint}", file=sys.stderr)
    return exc.exit_code


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
    return 0
