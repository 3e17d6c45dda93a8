"""What a request may do given the records dnsorch already manages: checked at accept, so a request
that cannot succeed is refused at once with the rule it breaks, instead of failing in the workflow.

Accept reads PostgreSQL only, never the DNS server: accepting must not slow down or fail when DNS
does (a query the server does not answer costs its whole timeout; with one per create it stalled
Kafka ingestion). Data dnsorch does not manage is found by the workflow's plan (`unmanaged_name`,
REJECTED) and by the RFC 2136 prerequisites of the UPDATE itself, which also catch a race between
two accepted requests; the name's owner is checked again at the name's turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.name
from sqlalchemy import Connection

from dnsorch.contracts import (
    DnsRequestSpec,
    NameOwnedByAnotherAccount,
    ProtectedName,
    RecordConflict,
    RecordExists,
    RecordMissing,
)
from dnsorch.dns import FORWARD_TYPES, name_text, protected_reason, reverse_zone_of
from dnsorch.store import owners, served_records

_TARGETS_THAT_MUST_NOT_BE_ALIASES = ("MX", "SRV")


@dataclass
class ManagedState:
    """What dnsorch manages at the request's name (and at its target, for MX and SRV)."""

    owner: str | None = None
    types: set[str] = field(default_factory=set)
    target_is_cname: bool = False
    ptr: str | None = None
    """The PTR name an A/AAAA create or update keeps (dnsorch/dns/reverse.py), if a managed zone holds it."""
    ptr_owner: str | None = None


def read_state(
    conn: Connection, spec: DnsRequestSpec, reverse_zones: list[str] | None = None
) -> ManagedState:
    target_types: set[str] = set()
    if spec.record_type in _TARGETS_THAT_MUST_NOT_BE_ALIASES and spec.operation != "delete":
        target = name_text(dns.name.from_text(spec.target))  # as names are stored
        target_types = served_records.managed_types(conn, target)
    ptr, found = None, None
    if spec.record_type in FORWARD_TYPES and spec.operation != "delete" and reverse_zones:
        found = reverse_zone_of(spec.target, reverse_zones)
        ptr = found[0] if found else None
    ptr_owner = owners.owner_of(conn, ptr, found[1]) if ptr and found else None
    owner = owners.owner_of(conn, spec.domain, spec.zone)
    return ManagedState(
        ptr=ptr,
        ptr_owner=ptr_owner.account_id if ptr_owner else None,
        owner=owner.account_id if owner else None,
        types=served_records.managed_types(conn, spec.domain),
        target_is_cname="CNAME" in target_types,
    )


def check_protected(spec: DnsRequestSpec) -> None:
    """What accept can tell without DNS: reverse zones are closed to submitters. The zone's name
    servers and cuts are known from DNS, so the plan checks them at the name's turn."""
    if (reason := protected_reason(spec.domain, spec.zone, source=spec.source)) is not None:
        raise ProtectedName(reason)


def check(spec: DnsRequestSpec, state: ManagedState) -> None:
    """Raise the first rule the request breaks."""
    what = f"{spec.record_type} {spec.domain}"
    if state.owner is not None and state.owner != spec.account_id:
        raise NameOwnedByAnotherAccount(spec.domain, state.owner)
    if state.ptr and state.ptr_owner is not None and state.ptr_owner != spec.account_id:
        raise NameOwnedByAnotherAccount(state.ptr, state.ptr_owner)  # its PTR would be another's
    if spec.operation == "create" and spec.record_type in state.types:
        raise RecordExists(f"{what} already exists: send an update to change it")
    if spec.operation in ("update", "delete") and spec.record_type not in state.types:
        raise RecordMissing(f"{what} does not exist in dnsorch: nothing to {spec.operation}")
    if spec.operation == "create":
        others = sorted(state.types - {"CNAME"})
        if spec.record_type == "CNAME" and others:
            raise RecordConflict(
                f"{spec.domain} already holds {', '.join(others)}: a CNAME cannot share its name with other"
                " data (RFC 1034 §3.6.2, RFC 2181 §10.1)"
            )
        if spec.record_type != "CNAME" and "CNAME" in state.types:
            raise RecordConflict(
                f"{spec.domain} is a CNAME: no other data may share its name"
                " (RFC 1034 §3.6.2, RFC 2181 §10.1)"
            )
    if state.target_is_cname:
        raise RecordConflict(
            f"the {spec.record_type} target {spec.target} is a CNAME: it must name a host (RFC 2181 §10.3)"
        )
