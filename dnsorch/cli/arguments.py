"""What the CLI's commands parse alike: the API connection options, times, ids, and PostgreSQL access."""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from dnsorch.cli.api_client import DEFAULT_API_URL, EXIT_UNREACHABLE
from dnsorch.settings import Settings
from dnsorch.store import make_engine

_FROM_NOW = re.compile(r"\+(\d+)([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def api_options() -> argparse.ArgumentParser:
    """The options of every API command, for `parents=`: accepted before or after the verb, since
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
    return common


def at_time(text: str) -> str:
    """A time with a UTC offset (ISO 8601), or `+90m`, `+2h`, `+3d` from now; sent in UTC. A time
    without an offset means different things on different machines, so it is a usage error here
    (the API refuses it too). Whether it is ahead and within a year is the API's to judge."""
    if (relative := _FROM_NOW.fullmatch(text.strip())) is not None:
        amount, unit = relative.groups()
        return (datetime.now(UTC) + timedelta(**{_UNITS[unit]: int(amount)})).isoformat()
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (e.g. 2027-01-31T22:00:00Z, or +2h from now)"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. {text}Z")
    return moment.astimezone(UTC).isoformat()


def uuid_of(what: str) -> Callable[[str], str]:
    """An argparse type for the id of `what`: checked locally, so a mistyped id is a usage error
    (exit 2), not a round trip and a 422."""

    def parse(text: str) -> str:
        try:
            return str(uuid.UUID(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {what} id (a UUID): {text!r}") from None

    return parse


def on_database(settings: Settings, command: Callable[[Engine], int]) -> int:
    """`command`'s exit code, run on an engine for DATABASE_URL; PostgreSQL out of reach is exit 3."""
    engine = make_engine(settings.database_url)
    try:
        return command(engine)
    except OperationalError as error:
        print(f"error: PostgreSQL unreachable at DATABASE_URL: {error.orig}", file=sys.stderr)
        return EXIT_UNREACHABLE
    finally:
        engine.dispose()
