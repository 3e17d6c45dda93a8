"""Inputs and results of drift detection (DriftScanWorkflow and its activities); like every contract,
they live in Temporal's history, so new fields need defaults."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class DriftScanInput:
    """One scan of the zones dnsorch manages; fixed by the schedule (worker/schedules.py)."""

    zones: list[str]
    policy: str = "raise"
    """`heal`: a drifted record set is re-applied at once; `raise`: a request waits for an operator."""
    max_requests_per_zone: int = 100
    """Drift requests one scan starts per zone; the rest wait for the next scan."""
    max_listed: int = 50
    """Record sets listed by name in the scan's result, per zone and kind (all are counted)."""


@dataclass
class ManagedRecord:
    """What dnsorch recorded for a record set: enough to ask for it again as a request."""

    account_id: str
    target: str
    ttl: int
    priority: int | None = None
    comment: str | None = None
    extra_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServedBy:
    """What one authoritative server serves for a record set (values empty: nothing)."""

    server: str
    values: list[str] = field(default_factory=list)
    ttl: int | None = None

    def describe(self) -> str:
        if not self.values:
            return f"{self.server} serves nothing"
        return f"{self.server} serves {', '.join(self.values)} (TTL {self.ttl})"


@dataclass
class DriftedRRset:
    """A record set where what the servers serve differs from what dnsorch recorded."""

    zone: str
    domain: str
    record_type: str
    kind: str
    """`changed` (a server serves other values or another TTL), `missing` (a server serves nothing)
    or `unmanaged` (served, but dnsorch manages no such record set: reported, never touched)."""
    recorded: list[str] = field(default_factory=list)
    recorded_ttl: int | None = None
    served: list[ServedBy] = field(default_factory=list)
    """The servers whose answer differs from the record (for `unmanaged`: every server serving it)."""
    record: ManagedRecord | None = None
    pending_request: str = ""
    """An unfinished request for this record set: it is left to that request, no drift request starts."""

    def difference(self) -> str:
        """`ns2.example.test (127.0.0.2) serves 192.0.2.99 (TTL 300), dnsorch recorded 192.0.2.10 (TTL 60)`"""
        served = "; ".join(s.describe() for s in self.served)
        if self.kind == "unmanaged":
            return f"{served}; dnsorch manages no such record set"
        return f"{served}, dnsorch recorded {', '.join(self.recorded)} (TTL {self.recorded_ttl})"

    def describe(self) -> str:
        return f"{self.record_type} {self.domain}: {self.difference()}"


@dataclass
class ZoneScan:
    """What one scan of a zone found (the scan activity's result)."""

    zone: str
    servers: list[str] = field(default_factory=list)
    record_sets: int = 0
    """Managed record sets compared."""
    drifted: list[DriftedRRset] = field(default_factory=list)
    """Managed record sets that drifted, at most the input's max_requests_per_zone (see drifted_count)."""
    drifted_count: int = 0
    unmanaged: list[DriftedRRset] = field(default_factory=list)
    """Unmanaged record sets, at most the input's max_listed (see unmanaged_count)."""
    unmanaged_count: int = 0
    unreadable: list[str] = field(default_factory=list)
    """Servers that could not be read at all, with why: their drift is unknown this time."""
    seconds: float = 0.0


@dataclass
class ZoneScanInput:
    zone: str
    max_requests: int = 100
    max_listed: int = 50


@dataclass
class DriftRequests:
    """Start one request per drifted managed record set (the start activity's input)."""

    zone: str
    scan_run_id: str
    """The scan's workflow run id: request ids derive from it, so a retried start starts nothing twice."""
    policy: str
    drifted: list[DriftedRRset] = field(default_factory=list)


@dataclass
class DriftRequestStart:
    """What became of one drifted record set: the request started for it, or why none was."""

    domain: str
    record_type: str
    request_id: str = ""
    started: bool = False
    note: str = ""


@dataclass
class ZoneDriftSummary:
    zone: str
    servers: list[str] = field(default_factory=list)
    record_sets: int = 0
    drifted_count: int = 0
    unmanaged_count: int = 0
    drifted: list[str] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    """`<request id> <type> <name>: …` per drifted record set: the request started, or why none was."""
    requests_started: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class DriftScanSummary:
    """The scan's result, shown in the Temporal UI: counts, duration and the zones' lists (capped)."""

    policy: str
    started_at: datetime
    seconds: float = 0.0
    drifted: int = 0
    unmanaged: int = 0
    requests_started: int = 0
    zones: list[ZoneDriftSummary] = field(default_factory=list)
