"""Logging for every process: one line per event, with the request id on every line.

`LOG_JSON=true` gives one JSON object per line for machines: `ts`, `level`, `role`, `logger`,
`message`, `request_id`, and where known `workflow_id`, `run_id`, `workflow_type`, `activity`,
`attempt` (from Temporal's workflow and activity loggers), `trace_id`/`span_id` (when tracing is
on) and `exc`. The default is one plain line for people. Either way, secrets that look like a TSIG
key or a password in a URL are masked before anything is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from typing import Any

_request_id: ContextVar[str] = ContextVar("dnsorch_request_id", default="-")
_WORKFLOW_PREFIX = "dns-request-"
_SECRETS = (
    (re.compile(r'(secret\s+)"[^"]*"', re.IGNORECASE), r'\1"***"'),  # a TSIG key file's content
    (re.compile(r"([a-z][a-z0-9+.-]*://[^:/?#@\s]*:)[^@\s/]+@", re.IGNORECASE), r"\1***@"),  # URL password
    (re.compile(r"\b(password|passwd|secret|token)=[^\s&,;)\]}'\"]+", re.IGNORECASE), r"\1=***"),
)


def bind_request_id(request_id: str) -> None:
    """Tag every log line of the current task (HTTP request, activity) with this request id."""
    _request_id.set(request_id)


def redact(text: str) -> str:
    """Mask what looks like a secret; a last line of defence, not a licence to log secrets."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _temporal_context(record: logging.LogRecord) -> dict[str, Any]:
    """What Temporal's loggers put on the record: `temporal_activity` or `temporal_workflow`."""
    for attr in ("temporal_activity", "temporal_workflow"):
        context = getattr(record, attr, None)
        if isinstance(context, dict):
            return context
    return {}


def _request_id_of(record: logging.LogRecord) -> str:
    bound = _request_id.get()
    if bound != "-":
        return bound
    workflow_id = str(_temporal_context(record).get("workflow_id", ""))
    if workflow_id.startswith(_WORKFLOW_PREFIX):
        return workflow_id.removeprefix(_WORKFLOW_PREFIX)
    return "-"


def _trace_ids() -> dict[str, str]:
    """The current span's ids, if OpenTelemetry is in use (never imported just for this)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id_of(record)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; keys with nothing known are left out, except `request_id` (null)."""

    def __init__(self, role: str = "") -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or _request_id_of(record)
        event: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
            + f".{int(record.msecs):03d}"
            + self.formatTime(record, "%z"),
            "level": record.levelname,
            "role": self.role or None,
            "logger": record.name,
            "request_id": None if request_id == "-" else request_id,
            "message": redact(record.getMessage()),
        }
        temporal = _temporal_context(record)
        event.update(
            workflow_id=temporal.get("workflow_id"),
            run_id=temporal.get("workflow_run_id") or temporal.get("run_id"),
            workflow_type=temporal.get("workflow_type"),
        )
        if "activity_type" in temporal:
            event.update(activity=temporal["activity_type"], attempt=temporal.get("attempt"))
        event.update(_trace_ids())
        if record.exc_info:
            event["exc"] = redact(self.formatException(record.exc_info))
        fields = {key: value for key, value in event.items() if value is not None or key == "request_id"}
        return json.dumps(fields, default=str)


class PlainFormatter(logging.Formatter):
    """The human-readable line; masks secrets like the JSON one."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str = "INFO", json_lines: bool = False, role: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if json_lines:
        handler.setFormatter(JsonFormatter(role))
        _temporal_context_as_fields_only()
    else:
        prefix = f"{role} " if role else ""
        handler.setFormatter(
            PlainFormatter(f"%(asctime)s {prefix}%(levelname)s %(name)s [req %(request_id)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(json_lines)  # Python warnings as events too, not raw stderr lines


def _temporal_context_as_fields_only() -> None:
    """In JSON the workflow/activity context has fields of its own: keep it out of the message."""
    from temporalio import activity, workflow

    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False
