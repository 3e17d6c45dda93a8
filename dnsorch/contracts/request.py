"""A request as the workflow holds it: its spec, its statuses, what operators send it, and the
workflow's single argument.

Like every contract, these are stored in Temporal's history: they hold request data only, never a
secret, and new fields must have defaults so running histories keep decoding.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    SCHEDULED = "SCHEDULED"
    """Waits durably for its `not_before`; then it is planned, approved and applied as any request."""
    FROZEN = "FROZEN"
    """Waits durably for the end of a freeze window on its zone (the window's end and reason are on
    the timeline); then it is planned and applied as any request."""
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


DRIFT_SOURCE = "drift"
"""The `source` (and first log line's actor) of a drift request: `dnsorch requests list --source drift`."""

PTR_SOURCE = "ptr"
"""The `source` of a request a forward A or AAAA request starts to keep its PTR (dnsorch/dns/reverse.py)."""


class Action(StrEnum):
    """What an operator can do to a running request (API v2, signals, Temporal UI)."""

    APPROVE = "approve"
    REJECT = "reject"
    RETRY = "retry"
    RESOLVE = "resolve"
    FAIL = "fail"
    CANCEL = "cancel"
    ROLLBACK = "rollback"
    LET_THROUGH = "let_through"
    """A FROZEN request goes ahead now, in spite of the freeze (the operator's note is on the timeline)."""


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
    submitted_by: str | None = None
    """The id of the API key that submitted it (an id, never the key), for four-eyes approval."""
    expires_at: datetime | None = None
    """An expiring record: once this create or update completes, RecordExpiryWorkflow warns before
    this time and starts a delete at it (timezone-aware)."""
    emergency: bool = False
    """An emergency change (API v2 `emergency: true`): it passes freeze windows, and the approval
    policy counts it as a risk (`emergency`), so a person approves it first."""
    ttl_dance: bool = False
    """An update that dances (API v2 `ttl_dance: true`): lower the served TTL, wait out the old one,
    apply the change at the short TTL, restore the request's TTL (workflows/ttl_dance.py)."""

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
class OperatorAction:
    """An operator's action (signal `action`, update `act`)."""

    action: str
    actor: str = "operator"
    note: str = ""
    key_id: str = ""
    """The id of the API key that sent it (API v2); empty when sent as a signal from the Temporal UI
    or CLI, which names no key. Approvals are counted by key (workflows/approvals.py)."""
    account_id: str = ""
    """The account of that key (four eyes: the submitting account may not approve)."""


@dataclass
class Reschedule:
    """An operator moves a scheduled request's time (API v2 `POST .../schedule`, an Update)."""

    not_before: datetime
    actor: str
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
    approvals: dict[str, Any] | None = None
    """A request held for approval: `required` (how many approvals it needs) and `approvers`, each
    `{"actor": ..., "key_id": ...}` in order (key_id empty when the approval named no API key)."""


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
    """Why the approval policy holds the request (dnsorch/requests/approval.py)."""
    approval_timeout_seconds: int = 0
    """How long it waits for approval before it ends REJECTED; 0: no deadline."""
    approval_verdict: str = ""
    """The approval policy's verdict on a request it lets through (e.g. "routine change: no approval
    needed"), kept on the request's first status line."""
    reverse_zones: list[str] = field(default_factory=list)
    """The managed reverse zones: an A or AAAA change keeps its PTR there (dnsorch/dns/reverse.py)."""
    attention_reason: str = ""
    """Set: the request begins in NEEDS_ATTENTION with this reason, and applies nothing until an
    operator's `retry` (drift that policy raises rather than heals)."""
    approvals_required: int = 1
    """Distinct approvers a held request needs (APPROVAL_MIN_APPROVERS, APPROVAL_RISK_APPROVERS)."""
    four_eyes: bool = False
    """APPROVAL_FOUR_EYES at accept: the submitter's key and account cannot approve, and an approval
    that names no API key does not count (workflows/approvals.py)."""
    hold_dangling_targets: bool = False
    """APPROVAL_RISKS lists `dangling_target`: a plan that finds a target that does not resolve holds
    the request for approval before anything is applied (unless a person approved it already)."""
    ttl_dance_threshold_seconds: int = 0
    """TTL_DANCE_THRESHOLD_SECONDS: an update whose served TTL is above this dances unasked; 0: never."""
    ttl_dance_short_ttl: int = 60
    """TTL_DANCE_SHORT_TTL: the TTL a dance serves while the record moves."""


@dataclass(frozen=True)
class ZoneFacts:
    """What the approval policy's risk rules need from PostgreSQL, read at accept
    (dnsorch/store/zone_facts.py)."""

    current_ttl: int | None = None
    """The TTL of the managed record set the request changes (None: there is none)."""
    zone_record_sets: int = 0
    """Managed record sets in the request's zone."""
    zone_changes_in_flight: int = 0
    """Updates and deletes in the zone accepted before this one and not yet finished."""


@dataclass
class Judgement:
    """The approval policy's verdict on a scheduled request when it is due (activities/judging.py):
    the zone may have changed since accept, and a change routine then may be risky now."""

    required: bool = False
    reasons: list[str] = field(default_factory=list)
    approvers: int = 1
