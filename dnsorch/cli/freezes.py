"""`dnsorch freezes …`: freeze windows, through API v2 (operators): declare one, list them, end one."""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx

from dnsorch.cli.api_client import CliError, api_for, report
from dnsorch.cli.arguments import api_options, at_time, uuid_of
from dnsorch.cli.output import cell, table, when

FREEZES_PATH = "/api/v2/freezes"
COLUMNS = ("ID", "ZONE", "STARTS", "ENDS", "BY", "REASON")


def add_freezes_parser(roles: argparse._SubParsersAction) -> None:
    common = api_options()
    parser = roles.add_parser("freezes", parents=[common], help="freeze windows: requests in a zone wait")
    parser.description = __doc__
    verbs = parser.add_subparsers(dest="freezes_command", metavar="COMMAND", required=True)
    add = verbs.add_parser("add", parents=[common], help="declare a freeze window (operators)")
    add.add_argument("--zone", default=None, help="a managed zone; omitted: every zone")
    add.add_argument(
        "--from", dest="starts_at", type=at_time, default=None, metavar="TIME", help="omitted: now"
    )
    add.add_argument(
        "--until",
        dest="ends_at",
        type=at_time,
        required=True,
        metavar="TIME",
        help="e.g. 2027-01-31T22:00:00Z, +2h",
    )
    add.add_argument("--reason", required=True, metavar="TEXT", help="why; on every request it holds")
    verbs.add_parser("list", parents=[common], help="the windows that hold now or will")
    end = verbs.add_parser("end", parents=[common], help="end a window now; the requests it held go ahead")
    end.add_argument("window_id", type=uuid_of("freeze window"), metavar="ID")


def _render(window: dict[str, Any]) -> list[str]:
    return [
        cell(window["id"]),
        cell(window.get("zone") or "(all zones)"),
        when(window["starts_at"]),
        when(window["cancelled_at"] or window["ends_at"]),
        cell(window["created_by"]),
        cell(window["reason"], 60),
    ]


def run_freezes(args: argparse.Namespace, *, client: httpx.Client | None = None) -> int:
    """One parsed `dnsorch freezes` command; exit codes as for `dnsorch requests`."""
    try:
        with api_for(args, client) as api:
            if args.freezes_command == "add":
                body = {"zone": args.zone, "ends_at": args.ends_at, "reason": args.reason}
                if args.starts_at is not None:
                    body["starts_at"] = args.starts_at
                data = api.call("POST", FREEZES_PATH, json=body)
            elif args.freezes_command == "end":
                data = api.call(
                    "DELETE", f"{FREEZES_PATH}/{args.window_id}", about=f"freeze {args.window_id}"
                )
            else:
                data = api.call("GET", FREEZES_PATH)
    except CliError as exc:
        return report(exc)
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif args.freezes_command == "list":
        rows = [_render(window) for window in data["items"]]
        print(table(COLUMNS, rows) if rows else "no freeze windows")
    else:
        print(table(COLUMNS, [_render(data)]))
    return 0
