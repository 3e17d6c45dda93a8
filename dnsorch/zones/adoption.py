"""Adopt a zone: what a DNS server already serves becomes dnsorch's managed records, owned by one account.

The zone is read by AXFR (`dnsorch/dns/transfer.py`) and grouped into record sets. What dnsorch does
not manage is skipped (SOA, the zone's own name servers and their glue, delegations, DNSSEC, other
types). Each other record set is planned as `adopt` (nobody manages it yet), `already_managed` (dnsorch
manages it with the same values and TTL: adopting again adds nothing) or `conflict` (managed with other
values, the name belongs to another account, or it breaks a rule dnsorch enforces on requests). Conflicts
are reported and never overwritten.

Every adopted record set gets a request of its own, COMPLETED, source and actor `adoption`, whose one
log line says which operator adopted it from which zone: `dns_records` rows keep their request, so the
read endpoints, the ownership rules and later updates and deletes treat adopted records like any other.
A name that gets its owner by adoption also gets a `name_transfers` row (from no account), so
`dnsorch names show` tells who gave it to whom and why. Nothing is sent to DNS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.zone
import pydantic
from sqlalchemy import Connection, Engine

from dnsorch.contracts import DnsorchError, DnsRequestSpec, InvalidRequest
from dnsorch.dns import rdata_values, read_zone, served_rrsets, skip_reason
from dnsorch.dns.comparison import key
from dnsorch.requests import CreateDnsRequest, RequestContext, build_spec, rules
from dnsorch.settings import Settings
from dnsorch.store import ManagedZone, hold_records, read_managed_zone, write_adopted

SOURCE = "adoption"
"""The `source` of an adopted record's request (`dnsorch requests list --source adoption`)."""


class Action(StrEnum):
    ADOPT = "adopt"
    ALREADY_MANAGED = "already_managed"
    CONFLICT = "conflict"
    SKIP = "skip"


class AdoptionRefused(DnsorchError):
    """The adoption cannot run as asked: a zone dnsorch does not manage, a subtree outside it, an owner
    no request could name."""


@dataclass
class PlannedRRset:
    """One record set the zone serves and what adoption does with it."""

    domain: str
    record_type: str
    ttl: int
    values: list[str]
    action: Action
    reason: str = ""
    spec: DnsRequestSpec | None = None
    """The record set as the create request dnsorch would accept (for `adopt` only)."""
    claims_name: bool = False
    """The name has no owner yet: adopting gives it to the plan's owner."""


@dataclass
class AdoptionPlan:
    zone: str
    owner: str
    rrsets: list[PlannedRRset] = field(default_factory=list)

    def of(self, action: Action) -> list[PlannedRRset]:
        return [r for r in self.rrsets if r.action == action]

    @property
    def counts(self) -> dict[str, int]:
        return {action.value: len(self.of(action)) for action in Action}


@dataclass
class AdoptionResult:
    plan: AdoptionPlan
    adopted: int
    """Record sets written as managed records."""
    names_claimed: int
    """Names that had no owner and now belong to the plan's owner."""


def plan_adoption(
    engine: Engine, settings: Settings, zone: str, owner: str, under: str | None = None
) -> AdoptionPlan:
    """What adopting `zone` (or only the names at and below `under`) would do; writes nothing."""
    zone = _checked(settings, zone, owner, under)
    served = read_zone(settings, zone)
    with engine.connect() as conn:
        return classify(conn, settings, served, owner, under)


def adopt_zone(
    engine: Engine, settings: Settings, zone: str, owner: str, operator: str, under: str | None = None
) -> AdoptionResult:
    """Adopt what the plan says `adopt`, in one transaction planned against the data it writes beside."""
    zone = _checked(settings, zone, owner, under)
    served = read_zone(settings, zone)
    with engine.begin() as conn:
        hold_records(conn)
        plan = classify(conn, settings, served, owner, under)
        return write(conn, plan, operator)


def write(conn: Connection, plan: AdoptionPlan, operator: str) -> AdoptionResult:
    """Store the plan's `adopt` record sets as managed records of its owner, in the caller's transaction."""
    adopting = [(r.spec, r.claims_name) for r in plan.of(Action.ADOPT) if r.spec is not None]
    adopted, claimed = write_adopted(conn, plan.zone, plan.owner, operator, adopting)
    return AdoptionResult(plan, adopted, claimed)


def _checked(settings: Settings, zone: str, owner: str, under: str | None) -> str:
    """The zone, normalised, once the arguments make sense; before any DNS or database work."""
    zone = _text(dns.name.from_text(zone))
    if zone not in [_text(dns.name.from_text(z)) for z in settings.dns_zones]:
        raise AdoptionRefused(
            f"{zone} is not one of the zones dnsorch manages (DNS_ZONES): adopted records could never be"
            " changed through dnsorch; add the zone first"
        )
    if under is not None and not dns.name.from_text(under).is_subdomain(dns.name.from_text(zone)):
        raise AdoptionRefused(f"{under} is not inside the zone {zone}")
    try:
        RequestContext(account_id=owner, source=SOURCE)
    except pydantic.ValidationError as error:
        raise AdoptionRefused(
            f"the owner {owner!r} is not an account a request could name: {_why(error)}"
        ) from None
    return zone


def classify(
    conn: Connection, settings: Settings, served: dns.zone.Zone, owner: str, under: str | None = None
) -> AdoptionPlan:
    origin = served.origin
    assert origin is not None
    zone = origin.to_text(omit_final_dot=True).lower()
    subtree = dns.name.from_text(under) if under else origin
    rrsets = served_rrsets(served, subtree)
    plan = AdoptionPlan(zone, owner)
    state = read_managed_zone(conn, zone, settings.dns_zones, _targets(rrsets))
    zone_cnames = {_text(name) for name, rds in rrsets if rds.rdtype == dns.rdatatype.CNAME}
    for name, rdataset in rrsets:
        planned = _plan_one(settings, owner, name, rdataset, skip_reason(served, name, rdataset))
        if planned.spec is not None:
            _against_managed(planned, planned.spec, state, zone_cnames)
        plan.rrsets.append(planned)
    return plan


def _plan_one(
    settings: Settings, owner: str, name: dns.name.Name, rdataset: dns.rdataset.Rdataset, skip: str
) -> PlannedRRset:
    rtype = dns.rdatatype.to_text(rdataset.rdtype)
    values = sorted(rd.to_text() for rd in rdataset)
    planned = PlannedRRset(_text(name), rtype, rdataset.ttl, values, Action.SKIP, skip)
    if skip:
        return planned
    planned.action, planned.reason = Action.CONFLICT, ""
    if len(rdataset) != 1:
        planned.reason = f"holds {len(rdataset)} values; dnsorch manages one value per record set"
        return planned
    try:
        spec = _as_request(settings, owner, planned.domain, rtype, rdataset.ttl, next(iter(rdataset)))
    except (InvalidRequest, pydantic.ValidationError, UnicodeDecodeError) as error:
        planned.reason = f"dnsorch would refuse it: {_why(error)}"
        return planned
    written = _rdatas(rtype, rdata_values(spec.record_type, spec.target, spec.priority, spec.extra_config))
    if written != set(rdataset):
        shown = ", ".join(sorted(rd.to_text() for rd in written))
        planned.reason = f"dnsorch would write it as {shown}: adopting would change what is served"
        return planned
    planned.action, planned.spec = Action.ADOPT, spec
    return planned


def _as_request(
    settings: Settings, owner: str, domain: str, rtype: str, ttl: int, rdata: dns.rdata.Rdata
) -> DnsRequestSpec:
    """The record set as a create request dnsorch accepts, through the very validation requests pass."""
    target, priority, extra = _request_fields(rtype, rdata)
    body = CreateDnsRequest.model_validate(
        {
            "context": {"account_id": owner, "source": SOURCE},
            "resource": {
                "record_type": rtype,
                "domain": domain,
                "target": target,
                "config": {"ttl": ttl, "priority": priority, "extra_config": extra},
            },
        }
    )
    return build_spec(body, settings.dns_zones, str(uuid.uuid4()), SOURCE)


def _request_fields(rtype: str, rdata: dns.rdata.Rdata) -> tuple[str, int | None, dict[str, object]]:
    """Target, priority and extra_config of a request whose record would be exactly `rdata`."""
    if rtype in ("A", "AAAA"):
        return rdata.address, None, {}  # type: ignore[attr-defined]
    if rtype == "CNAME":
        return _text(rdata.target), None, {}  # type: ignore[attr-defined]
    if rtype == "MX":
        return _text(rdata.exchange), rdata.preference, {}  # type: ignore[attr-defined]
    if rtype == "SRV":
        extra: dict[str, object] = {"port": rdata.port, "weight": rdata.weight}  # type: ignore[attr-defined]
        return _text(rdata.target), rdata.priority, extra  # type: ignore[attr-defined]
    return b"".join(rdata.strings).decode("utf-8"), None, {}  # type: ignore[attr-defined]  # TXT


def _against_managed(
    planned: PlannedRRset, spec: DnsRequestSpec, state: ManagedZone, zone_cnames: set[str]
) -> None:
    """Decide adopt / already_managed / conflict from what dnsorch manages (and the zone's CNAMEs)."""
    if key(spec.domain, spec.record_type) in state.pending:
        planned.action, planned.spec = Action.CONFLICT, None
        planned.reason = "a request for it is under way; adopt again once it has finished"
        return
    owner = state.owner_of(spec.domain, spec.zone)
    if owner is not None and owner != spec.account_id:
        planned.action, planned.reason = Action.CONFLICT, f"the name belongs to account {owner}"
        return
    current = state.recorded.get(key(spec.domain, spec.record_type))
    if current is not None:
        values, ttl = _rdatas(spec.record_type, current.values), current.record.ttl
        if values == _rdatas(spec.record_type, _spec_values(spec)) and ttl == spec.ttl:
            planned.action, planned.reason = Action.ALREADY_MANAGED, ""
        else:
            shown = ", ".join(sorted(rd.to_text() for rd in values))
            planned.action = Action.CONFLICT
            planned.reason = f"dnsorch manages it as {shown} (TTL {ttl}); it is not overwritten"
        planned.spec = None
        return
    planned.claims_name = owner is None
    target = spec.target if spec.record_type in ("MX", "SRV") else ""
    name_state = rules.ManagedState(
        owner=owner,
        types=state.types_at(spec.domain),
        target_is_cname=bool(target) and (target in zone_cnames or target in state.cnames),
    )
    try:
        rules.check(spec, name_state)
    except DnsorchError as broken:
        planned.action, planned.reason, planned.spec = Action.CONFLICT, str(broken), None


def _targets(rrsets: Iterable[tuple[dns.name.Name, dns.rdataset.Rdataset]]) -> set[str]:
    found: set[str] = set()
    for _name, rdataset in rrsets:
        for rdata in rdataset:
            if rdataset.rdtype == dns.rdatatype.MX:
                found.add(_text(rdata.exchange))  # type: ignore[attr-defined]
            elif rdataset.rdtype == dns.rdatatype.SRV:
                found.add(_text(rdata.target))  # type: ignore[attr-defined]
    return found


def _spec_values(spec: DnsRequestSpec) -> list[str]:
    return rdata_values(spec.record_type, spec.target, spec.priority, spec.extra_config)


def _rdatas(rtype: str, values: Iterable[str]) -> set[dns.rdata.Rdata]:
    """Values as rdata, so that `Mail.Example.test.` and `mail.example.test.` compare equal."""
    kind = dns.rdatatype.from_text(rtype)
    return {
        dns.rdata.from_text(dns.rdataclass.IN, kind, value, origin=dns.name.root, relativize=False)
        for value in values
    }


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _why(error: Exception) -> str:
    if isinstance(error, InvalidRequest):
        return error.reason
    if isinstance(error, pydantic.ValidationError):
        return "; ".join(str(e["msg"]) for e in error.errors())
    return "its text is not UTF-8"
