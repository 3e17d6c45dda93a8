"""The dev stack's TSIG key file, in BIND's format: read by BIND, Knot DNS, the worker and the tests.

BIND's tsig-keygen makes it (`devstack.bind.ensure_tsig_key`); Knot's config and the tests read its
fields. `write_private` writes whatever holds the secret (the key, Knot's config) 0600 from its first byte.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

_KEY_FIELDS = {
    "name": re.compile(r'^\s*key\s+"?([A-Za-z0-9._-]+)"?\s*\{', re.MULTILINE),
    "algorithm": re.compile(r"algorithm\s+([A-Za-z0-9.-]+)\s*;"),
    "secret": re.compile(r'secret\s+"([^"]+)"'),
}


def write_private(path: Path, content: bytes, *, exclusive: bool = False) -> None:
    """Write `content` to `path` with mode 0600 from its first byte; `exclusive` keeps an existing file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class TsigKey:
    """A key as a BIND key file states it; the secret never appears in a repr (logs, tracebacks)."""

    name: str
    algorithm: str
    secret: str = field(repr=False)


def read_tsig_key(key_file: Path) -> TsigKey:
    text = key_file.read_text()
    found = {name: pattern.search(text) for name, pattern in _KEY_FIELDS.items()}
    missing = [name for name, match in found.items() if match is None]
    if missing:
        raise ValueError(f"{key_file} is not a BIND key statement (no {', '.join(missing)})")
    values = {name: match.group(1) for name, match in found.items() if match is not None}
    return TsigKey(**values)


def read_key_name(key_file: Path) -> str:
    """The key's name as written in the file (`key "NAME" { ... };`)."""
    match = _KEY_FIELDS["name"].search(key_file.read_text())
    if match is None:
        raise ValueError(f"{key_file} does not contain a BIND key statement")
    return match.group(1)
