"""`dnsorch keys create|list|revoke`: manage API keys straight in PostgreSQL (DATABASE_URL).

Whoever can reach the database is already an administrator, so this needs no API key itself.
`create` prints the key alone on stdout (KEY=$(dnsorch keys create ...)); it is shown only then.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.engine import Engine

from dnsorch.cli.arguments import on_database
from dnsorch.settings import Settings
from dnsorch.store import keys


def add_keys_parser(roles: argparse._SubParsersAction) -> None:
    parser = roles.add_parser("keys", help="create, list and revoke API keys", description=__doc__)
    verbs = parser.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    create = verbs.add_parser("create", help="a new key, printed once")
    create.add_argument("--account", required=True, help="the account the key acts for")
    create.add_argument(  # not dest "role": that names the dnsorch role (api, worker, keys...)
        "--role", dest="key_role", required=True, choices=[r.label for r in keys.Role]
    )
    create.add_argument("--name", help="who or what holds it (default: <account>-<role>)")
    listing = verbs.add_parser("list", help="keys (without secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    revoke = verbs.add_parser("revoke", help="refuse a key (within API_KEY_CACHE_SECONDS)")
    revoke.add_argument("key_id", help="the id `keys list` shows (or a whole key)")


def run_keys(args: argparse.Namespace, settings: Settings) -> int:
    return on_database(settings, lambda engine: _keys(args, engine))


def _keys(args: argparse.Namespace, engine: Engine) -> int:
    if args.keys_command == "create":
        name = args.name or f"{args.account}-{args.key_role}"
        row, key = keys.create_key(engine, args.account, args.key_role, name)
        print(
            f"created key {row.id} ({row.role} of {row.account_id}); it is shown only now:",
            file=sys.stderr,
        )
        print(key)
    elif args.keys_command == "list":
        print(f"{'ID':<14}{'ROLE':<11}{'ACCOUNT':<24}{'NAME':<24}{'CREATED':<22}REVOKED")
        for row in keys.list_keys(engine, include_revoked=args.all):
            revoked = f"{row.revoked_at:%Y-%m-%d %H:%M:%S}" if row.revoked_at else "-"
            print(
                f"{row.id:<14}{row.role:<11}{row.account_id:<24}{row.name:<24}"
                f"{row.created_at:%Y-%m-%d %H:%M:%S}   {revoked}"
            )
    else:
        key_id = keys.key_id_of(args.key_id)
        if not keys.revoke_key(engine, key_id):
            print(f"error: no active key {key_id}", file=sys.stderr)
            return 1
        print(f"revoked {key_id}", file=sys.stderr)
    return 0
