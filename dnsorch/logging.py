"""Logging for every process: one line per event, with the request id on every line."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from typing import Any

_request_id: ContextVar[str] = ContextVar("dnsorch_request_id", default="-")
_WORKFLOW_PREFIX = "dns-request-"


def bind_request_id(request_id: str) -> None:
    """Tag every log line of the current task (HTTP request, activity) with this request id."""
    _request_id.set(request_id)


def _request_id_of(record: logging.LogRecord) -> str:
    bound = _request_id.get()
    if bound != "-":
        return bound
    # Temporal's workflow and activity loggers put their context on the record.
    for attr in ("temporal_activity", "temporal_workflow"):
        context = getattr(record, attr, None)
        if isinstance(context, dict):
            workflow_id = str(context.get("workflow_id", ""))
            if workflow_id.startswith(_WORKFLOW_PREFIX):
                return workflow_id.removeprefix(_WORKFLOW_PREFIX)
    return "-"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id_of(record)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        activity = getattr(record, "temporal_activity", None)
        if isinstance(activity, dict):
            event.update(
                workflow_id=activity.get("workflow_id"),
                activity=activity.get("activity_type"),
                attempt=activity.get("attempt"),
            )
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str)


def configure_logging(level: str = "INFO", json_lines: bool = False, role: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        prefix = f"{role} " if role else ""
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {prefix}%(levelname)s %(name)s [req %(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
