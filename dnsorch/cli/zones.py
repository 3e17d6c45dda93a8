"""`dnsorch zones adopt <zone> --owner <account>`: make what a zone already serves managed records.

It reads the zone by AXFR from DNS_SERVER:DNS_PORT (TSIG key TSIG_KEY_FILE) and writes to
PostgreSQL (DATABASE_URL) directly: whoever can reach both is already an operator, as for
`dnsorch keys`. `--dry-run` prints the plan and writes nothing.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy.engine import Engine

from dnsorch.cli.arguments import on_database
from dnsorch.cli.output import cell
from dnsorch.contracts import DnsorchError
from dnsorch.settings import Settings
from dnsorch.zones import adoption

_ORDER = {action: index for index, action in enumerate(adoption.Action)}


def add_zones_parser(roles: argparse._SubParsersAction) -> None:
    parser = roles.add_parser("zones", help="adopt an existing zone's records", description=__doc__)
    verbs = parser.add_subparsers(dest="zones_command", metavar="COMMAND", required=True)
    adopt = verbs.add_parser("adopt", help="read a zone by AXFR and manage its records for an account")
    adopt.add_argument("zone", help="a zone dnsorch manages (DNS_ZONES)")
    adopt.add_argument("--owner", required=True, metavar="ACCOUNT", help="the account the records go to")
    adopt.add_argument("--dry-run", action="store_true", help="print what would be adopted; write nothing")
    adopt.add_argument(
        "--operator", default=None, metavar="NAME", help="who adopts, for the log (default: your login)"
    )
    adopt.add_argument("--under", default=None, metavar="NAME", help="only names at or below NAME")
    adopt.add_argument("--quiet", action="store_true", help="print the counts only, not the table")


def run_zones(args: argparse.Namespace, settings: Settings) -> int:
    return on_database(settings, lambda engine: _adopt(args, settings, engine))


def _adopt(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    try:
        if args.dry_run:
            plan = adoption.plan_adoption(engine, settings, args.zone, args.owner, args.under)
            _print_plan(plan, args.quiet)
            print(f"dry run: nothing was written; {_counts(plan)}")
        else:
            operator = args.operator or getpass.getuser()
            result = adoption.adopt_zone(engine, settings, args.zone, args.owner, operator, args.under)
            _print_plan(result.plan, args.quiet)
            print(
                f"adopted {result.adopted} record sets for {result.plan.owner}"
                f" ({result.names_claimed} names newly owned); {_counts(result.plan)}"
            )
    except DnsorchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _counts(plan: adoption.AdoptionPlan) -> str:
    return ", ".join(f"{count} {action}" for action, count in plan.counts.items())


def _print_plan(plan: adoption.AdoptionPlan, quiet: bool) -> None:
    if quiet:
        return
    rows = sorted(plan.rrsets, key=lambda r: (_ORDER[r.action], r.domain, r.record_type))
    print(f"{'ACTION':<16}{'TYPE':<7}{'NAME':<40}{'TTL':>7}  VALUE / REASON")
    for r in rows:
        value = ", ".join(r.values)
        reason = f"  ({r.reason})" if r.reason else ""
        name = cell(r.domain, 39)
        print(f"{r.action.value:<16}{r.record_type:<7}{name:<40}{r.ttl:>7}  {cell(value, 60)}{reason}")
