"""Expiring records (issue 26): what RecordExpiryWorkflow is started with, what moves it, and what
its activities answer. One workflow per expiring record, keyed by the request that created it."""

from dataclasses import dataclass
from datetime import datetime

EXPIRY_SOURCE = "expiry"
"""The `source` of the delete request an expiry starts (set by dnsorch, never by a body)."""

EXPIRING = "EXPIRING"
"""The status of the warning event on the events topic; the request's own status does not change."""


def expiry_workflow_id_for(request_id: str) -> str:
    """One expiry per request that created or updated the record: a second start is a no-op."""
    return f"dns-expiry-{request_id}"


@dataclass
class ExpiryInput:
    """RecordExpiryWorkflow's single argument, fixed when the create or update completes."""

    request_id: str
    """The request whose record expires (its row holds `expires_at` and gets the warning event)."""
    expires_at: datetime
    warning_seconds: int = 86400
    """How long before expiry the warning event goes out (RECORD_EXPIRY_WARNING_SECONDS)."""
    recheck_seconds: int = 60
    """At expiry, while another request is changing the record set: how long to wait before asking again."""


@dataclass
class ExtendExpiry:
    """The owner or an operator moves the expiry (API v2 `POST .../expiry`, the Update `extend`)."""

    expires_at: datetime
    actor: str
    note: str = ""


@dataclass
class ExpiryNotice:
    """One idempotent write about an expiry on its request's row: the id is the workflow's."""

    request_id: str
    entry_id: str
    at: datetime
    expires_at: datetime
    actor: str = "expiry"
    note: str = ""
    previous: datetime | None = None
    """For a move: the expiry it replaces."""


@dataclass
class ExpiryOutcome:
    """What an expiry activity found: `kind` is "" (done as asked), `superseded` (the record was
    changed or deleted by a later request: nothing more to do), `busy` (another request is
    changing the record set: ask again later) or `refused` (the delete was refused at accept)."""

    kind: str = ""
    detail: str = ""
    delete_request_id: str = ""


@dataclass
class ExpiryState:
    """What the `expiry` query (and the workflow's result) answers."""

    request_id: str
    expires_at: datetime | None
    phase: str
    """`waiting`, `expiring` (the delete is being started), `done`."""
    warned_for: datetime | None = None
    outcome: str = ""
    delete_request_id: str = ""
