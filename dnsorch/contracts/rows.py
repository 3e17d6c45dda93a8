"""What the workflow writes to its request's row, in local activities: log lines, statuses and the
record DNS serves."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dnsorch.contracts.freeze import Freeze
from dnsorch.contracts.request import DnsRequestSpec


@dataclass
class LogLine:
    """One line of a request's timeline, optionally with a new status.

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
    approver: str | None = None
    """The id of the API key that approved, on the line that records an approval."""


@dataclass
class LogStep(LogLine):
    """One idempotent write to a request row: its line, after the lines the workflow kept back."""

    earlier: list[LogLine] = field(default_factory=list)
    """Lines made before this one and not written yet (patch `fewer-round-trips`): written first, in
    order, in the same transaction."""


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

    @classmethod
    def of(cls, spec: DnsRequestSpec, provisioned_at: datetime) -> "RecordRow":
        """The row a request's record becomes once DNS serves it."""
        return cls(
            request_id=spec.request_id,
            record_type=spec.record_type,
            domain=spec.domain,
            target=spec.target,
            ttl=spec.ttl,
            priority=spec.priority,
            comment=spec.comment,
            provisioned_at=provisioned_at,
            operation=spec.operation,
            account_id=spec.account_id,
            zone=spec.zone,
        )


@dataclass
class BeginRequest:
    """The workflow's first write (one local activity): the row, if missing, and the first status."""

    request: DnsRequestSpec
    step: LogStep


@dataclass
class BeginAnswer:
    """`begin_request_and_freeze`'s answer (fewer-steps-to-apply): the row was created here, and the
    freeze window over the request's zone right after its first status (None: not frozen)."""

    created: bool
    freeze: Freeze | None = None


@dataclass
class KeptPtr:
    """A PTR kept by its forward request: a row of its own (source `ptr`), ended, and its record."""

    request: DnsRequestSpec
    step: LogStep
    record: RecordRow


@dataclass
class FinishRequest:
    """A final write (one local activity, one transaction): the record DNS serves, if any, and the status."""

    step: LogStep
    record: RecordRow | None = None
    ptrs: list[KeptPtr] = field(default_factory=list)
    """The PTRs the request kept in its own apply (patch `ptr-in-apply`), stored with its record."""
