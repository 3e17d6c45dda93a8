"""How the CLI's API commands reach API v2: the base URL and the bearer token from the options, the
environment or the dev stack, and every failure as `error: …` with an exit code."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from dnsorch.cli.output import cell
from dnsorch.settings import PROJECT_ROOT

DEFAULT_API_URL = "http://127.0.0.1:8000"
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""Actions are Temporal Updates the API waits for, so answers get time; an absent server is told quickly."""
EXIT_ERROR, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


class CliError(Exception):
    """Ends the command with `error: …` (and maybe a hint) on stderr; raised where the problem is seen."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR, hint: str | None = None) -> None:
        super().__init__(message)
        self.exit_code, self.hint = exit_code, hint


class ApiClient:
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
        code = cell(error.get("code") or f"http_{response.status_code}")
        message = cell(error.get("message") or response.reason_phrase)
        if response.status_code == 404 and about:
            message = f"no such request {about}"
        for detail in (d for d in error.get("details") or [] if isinstance(d, dict)):
            reason = cell(detail.get("reason"))
            message += "" if reason in message else f"\n  {cell(detail.get('field'))}: {reason}"
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


def _dev_key() -> str | None:
    """The admin key `make run` wrote, so a developer's CLI works against the dev stack as is."""
    state_dir = Path(os.environ.get("STATE_DIR") or PROJECT_ROOT / ".dnsorch")
    try:
        return (state_dir / "dev-api-key").read_text().strip() or None
    except OSError:
        return None


@contextlib.contextmanager
def api_for(args: argparse.Namespace, client: httpx.Client | None) -> Iterator[ApiClient]:
    """The API the options name, with the token from them, $DNSORCH_API_KEY or the dev stack.
    `client` is only the transport (tests pass an `httpx.MockTransport` one)."""
    base_url = _base_url(getattr(args, "api", None))
    key = getattr(args, "api_key", None) or os.environ.get("DNSORCH_API_KEY") or _dev_key()
    opened = contextlib.nullcontext(client) if client is not None else httpx.Client(timeout=TIMEOUT)
    with opened as http:
        yield ApiClient(http, base_url, key)


def report(exc: CliError) -> int:
    """`error: …` (and a hint) on stderr; the command's exit code."""
    print(f"error: {exc}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {exc.hint}", file=sys.stderr)
    return exc.exit_code
