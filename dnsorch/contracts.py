"""Inputs and results of the workflow and its activities.

They are stored in Temporal's history, so they hold request data only, never a secret,
and new fields must have defaults so running histories keep decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    SCHEDULED = "SCHEDULED"
    """Waits durably for its `not_before`; then it is planned, approved and applied as any request."""
    IN_PROGRESS = "IN_PROGRESS"
    NEEDS_ATTENTION = "NEEDS_ATTENTION"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    ROLLED_BACK = "ROLLED_BACK"
    """The change was undone: DNS serves what it served before the request."""

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        RequestStatus.COMPLETED,
        RequestStatus.FAILED,
        RequestStatus.CANCELLED,
        RequestStatus.REJECTED,
        RequestStatus.ROLLED_BACK,
    }
)
UNFINISHED_STATUSES = tuple(status.value for status in RequestStatus if status not in TERMINAL_STATUSES)
"""Statuses of a request still under way (its workflow may yet change DNS)."""


class Action(StrEnum):
    """What an operator can do to a running request (API v2, signals, Temporal UI)."""

    APPROVE = "approve"
    REJECT = "reject"
    RETRY = "retry"
    RESOLVE = "resolve"
    FAIL = "fail"
    CANCEL = "cancel"
    ROLLBACK = "rollback"


@dataclass
class DnsRequestSpec:
    """A validated request, as the workflow receives it at start."""

    request_id: str
    account_id: str
    source: str
    record_type: str
    domain: str
    zone: str
    target: str
    ttl: int
    priority: int | None = None
    comment: str | None = None
    extra_config: dict[str, Any] = field(default_factory=dict)
    operation: str = "create"
    accepted_at: datetime | None = None
    message_key: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    dry_run: bool = False
    """Plan only: the request ends after its plan, and nothing touches DNS."""
    not_before: datetime | None = None
    """A scheduled change: nothing is planned or applied before this time (timezone-aware)."""

    @property
    def workflow_id(self) -> str:
        return workflow_id_for(self.request_id)

    @property
    def summary(self) -> str:
        return f"{self.record_type} {self.domain} → {self.target} ({self.account_id})"


def workflow_id_for(request_id: str) -> str:
    """One workflow per request; the id is derived so a second start is a no-op."""
    return f"dns-request-{request_id}"


@dataclass
class Reschedule:
    """An operator moves a scheduled request's time (API v2 `POST .../schedule`, an Update)."""

    not_before: datetime
    actor: str
    note: str = ""


@dataclass
class DnsChange:
    """What the Ansible step applies: one RRset at one name, values in presentation format."""

    request_id: str
    operation: str
    record_type: str
    domain: str
    zone: str
    values: list[str]
    ttl: int
    account_id: str = ""
    """Whose request it is: the name must not belong to another account (empty: not checked)."""
    source: str = ""
    """The door the request came through (api, kafka, ptr, drift, adoption): the zone's own names
    are closed to submitters (dnsorch/dns/protected.py)."""


@dataclass
class ApplyResult:
    """What the authoritative server answered after the change."""

    served: list[str]
    changed: bool
    served_at: datetime | None = None
    """When the primary was seen serving the change: other servers' propagation counts from here."""


@dataclass
class NameServer:
    """One authoritative server of a zone: the name its NS record gives and the address asked."""

    name: str
    address: str
    port: int

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})"


@dataclass
class ServedCheck:
    """Ask each of `servers` whether it serves `change`'s values (nothing, for a delete)."""

    change: DnsChange
    servers: list[NameServer]
    since: datetime
    """When the change was applied: a server's propagation time counts from here."""
    wait_seconds: float = 0.0
    """Keep asking the servers that do not serve it yet for up to this long before answering."""


@dataclass
class ServerAnswer:
    """One server's answer to a ServedCheck."""

    server: NameServer
    serves: bool
    served: list[str] = field(default_factory=list)
    seconds: float | None = None
    """Propagation: from the check's `since` to the first answer that served the change."""
    error: str = ""

    def describe(self) -> str:
        if self.serves:
            return f"{self.server.label} after {self.seconds or 0.0:.2f}s"
        shown = f"could not be asked ({self.error})" if self.error else f"serves {self.served or 'nothing'}"
        return f"{self.server.label} {shown}"


@dataclass
class LogStep:
    """One idempotent write to a request row: a log line, optionally with a new status.

    `entry_id` is made by the workflow, so an activity retried after a crash finds the
    line already there and does not add it twice.
    """

    request_id: str
    entry_id: str
    at: datetime
    message: str
    status: str | None = None
    step: str = ""
    actor: str = "workflow"
    previous: str | None = None
    plan: dict[str, Any] | None = None
    """The change's plan (ChangePlan as a dict), kept on the log line that reports it."""
    propagation: dict[str, float] | None = None
    """Seconds each authoritative server took to serve the change, on the line that reports it."""
    not_before: datetime | None = None
    """A scheduled request's new time, on the line that reports a reschedule."""


@dataclass
class ChangePlan:
    """What applying the change would do to the record set the server serves now."""

    action: str
    """`add`, `replace`, `delete`, `unchanged` (already served as asked), `none` (a delete of
    nothing) or `unknown` (the server could not be asked; the apply step finds out)."""
    old_values: list[str] = field(default_factory=list)
    new_values: list[str] = field(default_factory=list)
    old_ttl: int | None = None
    new_ttl: int | None = None
    conflict: str = ""
    """Why the change must not be applied (data dnsorch does not manage): the request is rejected."""
    note: str = ""

    def describe(self, change: str) -> str:
        if self.conflict:
            return f"{change}: {self.conflict}"
        if self.action == "unknown":
            return f"{change}: unknown ({self.note})"
        values = f"{', '.join(self.old_values) or 'nothing'} → {', '.join(self.new_values) or 'nothing'}"
        ttl = ""
        if self.new_ttl and self.old_ttl is None:
            ttl = f", TTL {self.new_ttl}"
        elif self.new_ttl and self.old_ttl != self.new_ttl:
            ttl = f", TTL {self.old_ttl} → {self.new_ttl}"
        return f"{self.action} {change}: {values}{ttl}"


@dataclass
class RecordRow:
    """The provisioned record to store once the DNS server serves it."""

    request_id: str
    record_type: str
    domain: str
    target: str
    ttl: int
    priority: int | None
    comment: str | None
    provisioned_at: datetime
    operation: str = "create"
    account_id: str = ""
    """The requesting account, which a create or update makes the name's owner if it has none."""
    zone: str = ""
    """The record's zone: ownership follows the tree of names below its apex (empty: the name alone,
    as rows written before zone-aware ownership were)."""


@dataclass
class BeginRequest:
    """The workflow's first write (one local activity): the row, if missing, and the first status."""

    request: DnsRequestSpec
    step: LogStep


@dataclass
class FinishRequest:
    """A final write (one local activity, one transaction): the record DNS serves, if any, and the status."""

    step: LogStep
    record: RecordRow | None = None


@dataclass
class OperatorAction:
    """An operator's action (signal `action`, update `act`)."""

    action: str
    actor: str = "operator"
    note: str = ""


@dataclass
class StatusChange:
    """A manual status change sent by an operator (signal `update_status`)."""

    status: str
    message: str = ""
    actor: str = "operator"


@dataclass
class WorkflowState:
    """What the `state` query answers."""

    request_id: str
    status: str
    step: str
    attempts: int = 0
    last_error: str | None = None
    log: list[dict[str, str]] = field(default_factory=list)
    allowed_actions: list[str] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    propagation: dict[str, float] = field(default_factory=dict)
    """Seconds each authoritative server took to serve the change, by server (`name (address)`)."""


@dataclass
class ApplyPolicy:
    """How hard the workflow tries the Ansible step; fixed at start from the settings."""

    max_attempts: int = 5
    initial_retry_seconds: float = 2.0
    retry_backoff: float = 2.0
    max_retry_seconds: float = 60.0
    timeout_seconds: int = 300
    heartbeat_seconds: int = 30
    attention_timeout_seconds: int = 7 * 24 * 3600
    """How long a request waits in NEEDS_ATTENTION for an operator before it ends FAILED."""
    propagation_timeout_seconds: float = 60.0
    """How long every authoritative server has to serve an applied change."""
    propagation_interval_seconds: float = 2.0
    """How often (a durable timer) the servers that do not serve it yet are asked again."""
    rollback_on_verify_failure: bool = False
    """When a server does not serve the change in time: undo it at once (True) or ask an operator."""


@dataclass
class ProvisioningInput:
    """The workflow's single argument."""

    request: DnsRequestSpec
    policy: ApplyPolicy = field(default_factory=ApplyPolicy)
    approval_required: bool = False
    approval_reasons: list[str] = field(default_factory=list)
    """Why the approval policy holds the request (dnsorch/approval.py)."""
    approval_timeout_seconds: int = 0
    """How long it waits for approval before it ends REJECTED; 0: no deadline."""
    approval_verdict: str = ""
    """The approval policy's verdict on a request it lets through (e.g. "routine change: no approval
    needed"), kept on the request's first status line."""
    reverse_zones: list[str] = field(default_factory=list)
    """The managed reverse zones: an A or AAAA change keeps its PTR there (dnsorch/reverse.py)."""
    attention_reason: str = ""
    """Set: the request begins in NEEDS_ATTENTION with this reason, and applies nothing until an
    operator's `retry` (drift that policy raises rather than heals)."""


# ---- drift detection (workflows/drift.py, activities/drift.py, dnsorch/drift.py) ----------------
