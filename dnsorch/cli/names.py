"""`dnsorch names …`: who owns a managed DNS name; an operator's transfer or grant of it (API v2)."""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx

from dnsorch.cli.api_client import CliError, api_for, report
from dnsorch.cli.arguments import api_options
from dnsorch.cli.output import cell, when

NAMES_PATH = "/api/v2/dns/names"


def add_names_parser(roles: argparse._SubParsersAction) -> None:
    common = api_options()
    parser = roles.add_parser("names", parents=[common], help="owners of managed DNS names; transfers")
    parser.description = __doc__
    verbs = parser.add_subparsers(dest="names_command", metavar="COMMAND", required=True)
    show = verbs.add_parser("show", parents=[common], help="the account a name belongs to, and its transfers")
    show.add_argument("domain")
    move = verbs.add_parser("transfer", parents=[common], help="give a name to another account (operators)")
    move.add_argument("domain")
    move.add_argument("--to", dest="account_id", required=True, metavar="ACCOUNT")
    move.add_argument("--note", default="", metavar="TEXT", help="why; kept with the transfer")
    give = verbs.add_parser(
        "grant", parents=[common], help="give a subtree to an account, even before it has records (operators)"
    )
    give.add_argument("domain")
    give.add_argument("--to", dest="account_id", required=True, metavar="ACCOUNT")
    give.add_argument("--note", default="", metavar="TEXT", help="why; kept with the grant")


def _render(name: dict[str, Any]) -> str:
    lines = [f"{cell(name['domain'])}: account {cell(name['account_id'])} since {when(name['since'])}"]
    for t in name.get("transfers") or []:
        note = f" — {cell(t['note'])}" if t.get("note") else ""
        moved = f"{cell(t['from_account'])} → {cell(t['to_account'])}"
        lines.append(f"  {when(t['at'])}  {moved} by {cell(t['actor'])}{note}")
    return "\n".join(lines)


def run_names(args: argparse.Namespace, *, client: httpx.Client | None = None) -> int:
    """One parsed `dnsorch names` command; exit codes as for `dnsorch requests`."""
    try:
        with api_for(args, client) as api:
            path = f"{NAMES_PATH}/{args.domain}"
            if args.names_command == "show":
                data = api.call("GET", path)
            else:
                data = api.call(
                    "POST",
                    f"{path}/{args.names_command}",  # transfer or grant
                    json={"account_id": args.account_id, "note": args.note},
                )
    except CliError as exc:
        return report(exc)
    print(json.dumps(data, indent=2, ensure_ascii=False) if getattr(args, "json", False) else _render(data))
    return 0
