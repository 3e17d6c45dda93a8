"""A request's other fields: its TTL, and the free text and `extra_config` that every later step
(JSONB, Temporal's payloads, the playbook) takes as it is."""

from __future__ import annotations

import math
from collections.abc import Mapping

from dnsorch.contracts import InvalidRequest

MAX_TTL = 604_800  # one week
MAX_EXTRA_KEYS = 20
MAX_EXTRA_KEY_LENGTH = 64
MAX_EXTRA_STRING = 256
EXTRA_CONFIG_FIELD = "resource.config.extra_config"


def text_problem(value: str, *, allow_newlines: bool = False) -> str | None:
    """Why `value` cannot be stored and passed on as it is, or None.

    A lone surrogate (JSON may escape one, `\\ud800`) is not Unicode: it has no UTF-8 form, so
    PostgreSQL, Temporal's payloads and the playbook would each refuse it later, mid-request.
    """
    allowed = ("\n", "\t", "\r") if allow_newlines else ()
    if any((ord(ch) < 0x20 and ch not in allowed) or ord(ch) == 0x7F for ch in value):
        return "must not contain control characters"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        return "must be valid Unicode (it holds a lone surrogate)"
    return None


def check_extra_config(extra: Mapping[str, object]) -> dict[str, object]:
    """Flat scalars that every later step takes as they are: JSONB, Temporal, the playbook.

    No NaN or Infinity (JSON has no such numbers and JSONB refuses them), no nested values,
    no control characters or lone surrogates, and bounded sizes.
    """
    field = EXTRA_CONFIG_FIELD
    if len(extra) > MAX_EXTRA_KEYS:
        raise InvalidRequest(field, f"has {len(extra)} keys; at most {MAX_EXTRA_KEYS} are allowed")
    for key, item in extra.items():
        if not isinstance(key, str) or not key:
            raise InvalidRequest(field, "keys must be non-empty strings")
        shown = _shown(key)
        if len(key) > MAX_EXTRA_KEY_LENGTH:
            raise InvalidRequest(field, f"key {shown} is longer than {MAX_EXTRA_KEY_LENGTH} characters")
        if problem := text_problem(key):
            raise InvalidRequest(field, f"key {shown} {problem}")
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidRequest(field, f"{shown} must be a finite number, not {item}")
        if isinstance(item, str):
            if len(item) > MAX_EXTRA_STRING:
                raise InvalidRequest(field, f"{shown} is longer than {MAX_EXTRA_STRING} characters")
            if problem := text_problem(item):
                raise InvalidRequest(field, f"{shown} {problem}")
        elif item is not None and not isinstance(item, int | float):  # bool is an int
            raise InvalidRequest(field, f"{shown} must be a string, number, boolean or null")
    return dict(extra)


def _shown(key: str) -> str:
    """A key as an error message may quote it: short, and escaped (repr) so it prints safely."""
    return repr(key[:40]) + ("…" if len(key) > 40 else "")


def check_ttl(ttl: int) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
        raise InvalidRequest("resource.config.ttl", f"must be an integer from 1 to {MAX_TTL}")
    return ttl
