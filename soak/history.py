"""The soak's record: one JSON object per line for every call, answer, Kafka message and fault."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any


class History:
    """Appends events to a JSON Lines file and keeps them in memory for the checker.

    Each event gets `seq` (its place in the file), `t` (seconds since the run began, monotonic)
    and `wall` (Unix time, to compare with the timestamps dnsorch writes in its logs).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._start = time.monotonic()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out = path.open("w", encoding="utf-8")

    def now(self) -> float:
        return time.monotonic() - self._start

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            event = {"seq": len(self.events), "t": round(self.now(), 3), "wall": time.time(), "kind": kind}
            event.update(fields)
            self.events.append(event)
            self._out.write(json.dumps(event, default=str, sort_keys=False) + "\n")
            self._out.flush()
            return event

    def close(self) -> None:
        with self._lock:
            self._out.close()

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["kind"] in kinds]


def load(path: Path) -> list[dict[str, Any]]:
    """A history file read back (for a checker run on an old history)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def excerpt(events: list[dict[str, Any]], limit: int = 12) -> list[str]:
    """Events as short lines for a violation report; the last `limit` if there are more."""
    shown = events[-limit:]
    lines = [json.dumps(event, default=str)[:400] for event in shown]
    if len(events) > limit:
        lines.insert(0, f"... {len(events) - limit} earlier events")
    return lines


def submits_for(events: list[dict[str, Any]], domain: str, rtype: str) -> list[dict[str, Any]]:
    """What clients sent and were told about a record set, and what people changed there by hand."""
    ops = set()
    for e in events:
        if e["kind"] == "op" and e.get("op_kind") == "submit":
            resource = e["body"]["resource"]
            if resource["domain"] == domain and resource["record_type"] == rtype:
                ops.add(e["op"])
    return [
        e
        for e in events
        if (e.get("op") in ops and e["kind"] in ("call", "produce"))
        or (e["kind"] == "hand" and e.get("domain") == domain and e.get("rtype") == rtype)
    ]


def op_events(events: list[dict[str, Any]], ops: set[int]) -> list[dict[str, Any]]:
    """What the schedule asked for in `ops`, what was sent and answered, and what was skipped."""
    return [e for e in events if e.get("op") in ops and e["kind"] in ("op", "call", "produce", "skipped")]


def events_for(events: list[dict[str, Any]], rid: str | None) -> list[dict[str, Any]]:
    """The ops whose answer, message or path named request `rid`, with all their events."""
    if rid is None:
        return []
    ops = {
        e["op"]
        for e in events
        if e["kind"] in ("call", "produce")
        and rid in str(e.get("answer", "")) + str(e.get("request_id", "")) + str(e.get("path", ""))
    }
    return op_events(events, ops)


def story(events: list[dict[str, Any]], ids: set[str], shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`shown` plus every operator call that named one of `ids`, in history order."""
    acts = [e for e in events if e["kind"] == "call" and any(i in e.get("path", "") for i in ids)]
    return sorted({e["seq"]: e for e in [*shown, *acts]}.values(), key=lambda e: e["seq"])
