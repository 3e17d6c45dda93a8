"""The change the workflow applies to DNS, its plan, and what the authoritative servers answer after it."""

from dataclasses import dataclass, field
from datetime import datetime


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
    ptr_of: str = ""
    """A PTR request's change: the forward name whose PTR it keeps, also on a delete (which carries no
    values), so its plan can tell this record's PTR from one dnsorch does not keep."""
    verify_ttl: bool = False
    """Verification also asks each server for this TTL (the TTL dance's steps); else values only."""


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
    dangling: list[str] = field(default_factory=list)
    """Targets (of a CNAME, MX or SRV) in a managed zone that the primary does not resolve: a CNAME's
    target has no data, an MX or SRV target no address. Targets elsewhere are not judged."""

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
        dangling = "".join(f"; the target {target} does not resolve" for target in self.dangling)
        return f"{self.action} {change}: {values}{ttl}{dangling}"


@dataclass
class ApplyResult:
    """What the authoritative server answered after the change."""

    served: list[str]
    changed: bool
    served_at: datetime | None = None
    """When the primary was seen serving the change: other servers' propagation counts from here."""


@dataclass
class ChangeSet:
    """One apply activity's changes: the request's own and the PTR changes that ride with it (each
    PTR change carries its PTR request's id, so the batch reports it apart)."""

    change: DnsChange
    ptrs: list[DnsChange] = field(default_factory=list)
    undo: list[DnsChange] = field(default_factory=list)
    """By PTR name, what restores it: applied to the PTRs applied when the request's own change
    was not, so a failed apply leaves reverse DNS as it was."""


@dataclass
class PtrApplied:
    """What became of one PTR change of a ChangeSet: `status` as the playbook reported it."""

    domain: str
    status: str
    """"applied", or why not: "conflict", "refused" or "failed"."""
    message: str = ""
    served_at: datetime | None = None


@dataclass
class ChangeSetResult:
    result: ApplyResult
    ptrs: list[PtrApplied] = field(default_factory=list)


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
class ZoneServed:
    """A zone's authoritative servers, looked up, and their answers to the first ServedCheck."""

    servers: list[NameServer]
    answers: list[ServerAnswer]


@dataclass
class TurnsToPlan:
    """What `take_turns_and_plan` is asked: the turn on each change's name, in order, then each plan."""

    changes: list[DnsChange]


@dataclass
class TurnsPlanned:
    """The answer of `take_turns_and_plan` (patch fewer-steps-to-apply): the changes' plans, in
    order, once the request holds every name; else the request that goes first at `waits_at`'s
    name, and no plan (the workflow waits for that turn, then asks again)."""

    plans: list[ChangePlan] = field(default_factory=list)
    first: str = ""
    waits_at: int = -1
