"""What the CLI prints: text that is safe on a terminal, UTC times, and aligned tables."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any


def cell(value: Any, width: int | None = None) -> str:
    """Text that is safe on a terminal: request strings come from other teams and Kafka, so control
    characters (escape sequences, newlines) are shown escaped instead of moving the cursor."""
    if value is None or value == "":
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
    return text[: width - 1] + "…" if width and len(text) > width else text


def when(value: Any) -> str:
    """UTC to the second (naive times are the server's UTC): enough to order events, short for a table."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return cell(value)
    return (moment.astimezone(UTC) if moment.tzinfo else moment).strftime("%Y-%m-%d %H:%M:%SZ")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell, except the last, so one long message moves nothing else."""
    table = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in table
    )


def pairs(items: Iterable[tuple[str, Any]], indent: str = "") -> list[str]:
    shown = [(key, when(value) if key.endswith("_at") else cell(value)) for key, value in items]
    width = max((len(key) for key, _ in shown), default=0) + 1
    return [f"{indent}{key + ':':<{width}}  {value}" for key, value in shown]
