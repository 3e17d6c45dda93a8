"""`dnsorch <role>`: one entry point for every process (api, worker, consumer, migrate, dev stack).

It only dispatches: each role's entry point lives with its role (`api/main.py`, `worker/main.py`,
`consumer/main.py`) and is named here as "module:function", resolved when the role starts, as
console-script entry points are. The core (`dnsorch/`) imports no role (`make lint` checks it).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dnsorch.cli.freezes import add_freezes_parser, run_freezes
from dnsorch.cli.keys import add_keys_parser, run_keys
from dnsorch.cli.names import add_names_parser, run_names
from dnsorch.cli.requests import add_requests_parser, run_requests
from dnsorch.cli.zones import add_zones_parser, run_zones
from dnsorch.logging import configure_logging
from dnsorch.settings import PROJECT_ROOT, get_settings

ROLES = {"api": "api.main:main", "worker": "worker.main:main", "consumer": "consumer.main:main"}


def _run_role(role: str) -> None:
    module, _, function = ROLES[role].partition(":")
    getattr(importlib.import_module(module), function)(get_settings())


def _migrate(revision: str, down: bool) -> None:
    from dnsorch import migrate

    url = get_settings().database_url
    (migrate.downgrade if down else migrate.upgrade)(url, revision)


def _dev() -> None:
    """The dev stack is tooling of the source checkout (`devstack/`), not part of the product: the
    wheel and the image do not carry it."""
    if not (PROJECT_ROOT / "devstack" / "stack.py").is_file():
        sys.exit(
            "dnsorch dev: the dev stack comes with the source checkout, not the package;"
            " run `make run` in a clone"
        )
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    stack = importlib.import_module("devstack.stack")
    sys.exit(stack.run_dev_stack(get_settings()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dnsorch", description=__doc__)
    roles = parser.add_subparsers(dest="role", required=True)
    roles.add_parser("api", help="serve the REST API")
    roles.add_parser("worker", help="run the Temporal worker (workflow + activities)")
    roles.add_parser("consumer", help="consume DNS requests from Kafka and publish status events")
    migrate = roles.add_parser("migrate", help="apply (or revert) the database migrations")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.add_argument("--down", action="store_true", help="downgrade to REVISION (e.g. base)")
    roles.add_parser("dev", help="run the whole system locally on embedded servers")
    add_requests_parser(roles)
    add_names_parser(roles)
    add_freezes_parser(roles)
    add_keys_parser(roles)
    add_zones_parser(roles)
    args = parser.parse_args(argv)
    if args.role == "requests":  # an operator's tool: needs no settings, only the API's address
        sys.exit(run_requests(args))
    if args.role == "names":
        sys.exit(run_names(args))
    if args.role == "freezes":
        sys.exit(run_freezes(args))

    settings = get_settings()
    if args.role == "keys":
        sys.exit(run_keys(args, settings))
    if args.role == "zones":
        sys.exit(run_zones(args, settings))
    configure_logging(settings.log_level, settings.log_json, role=args.role)
    if args.role in ROLES:
        _run_role(args.role)
    elif args.role == "migrate":
        _migrate(args.revision, args.down)
    elif args.role == "dev":
        _dev()
    else:
        parser.error(f"unknown role {args.role!r}")


if __name__ == "__main__":
    main()
