"""Automatic PTR records: an A or AAAA record in a zone whose reverse zone dnsorch also manages keeps
its PTR (RFC 1035 §3.5, RFC 3596 §2.5) as part of the same request. Each PTR change is a request of
its own (source `ptr`, the same account), started by the forward request's workflow, so it has a
row, a record, an owner and a timeline like any other; this module decides which PTR changes a
forward change needs. Pure: the workflow calls it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import dns.name
import dns.reversename

from dnsorch.contracts import PTR_SOURCE, DnsChange, DnsRequestSpec
from dnsorch.dns.plan import same_rrset

FORWARD_TYPES = ("A", "AAAA")
_NAMESPACE = uuid.UUID("5b8f0c1e-2d4a-4e55-9a51-3c6f0f3c2a10")  # PTR request ids, derived


def is_reverse_zone(zone: str) -> bool:
    name = dns.name.from_text(zone)
    return name.is_subdomain(dns.reversename.ipv4_reverse_domain) or name.is_subdomain(
        dns.reversename.ipv6_reverse_domain
    )


def reverse_zone_of(address: str, zones: Iterable[str]) -> tuple[str, str] | None:
    """(PTR name, the closest managed reverse zone holding it), or None when no managed zone does."""
    name = dns.reversename.from_address(address)
    enclosing = [dns.name.from_text(zone) for zone in zones if is_reverse_zone(zone)]
    holding = [zone for zone in enclosing if name.is_subdomain(zone)]
    if not holding:
        return None
    closest = max(holding, key=len)
    return name.to_text(omit_final_dot=True), closest.to_text(omit_final_dot=True)


def ptr_requests(
    request: DnsRequestSpec, old_values: list[str], reverse_zones: list[str], attempt: int
) -> list[DnsRequestSpec]:
    """The PTR requests that keep reverse DNS in step with `request`: the new address's PTR names
    the request's domain; an address the change removes (`old_values`, what the plan saw) loses
    its PTR. `attempt` makes a retry's requests new ones (a request id is never reused)."""
    if request.record_type not in FORWARD_TYPES or request.dry_run:
        return []
    new = [] if request.operation == "delete" else [request.target]
    wanted = [("restore", address) for address in new]
    wanted += [("delete", address) for address in old_values if address not in new]
    specs = []
    for operation, address in wanted:
        found = reverse_zone_of(address, reverse_zones)
        if found is None:
            continue
        ptr_name, zone = found
        key = f"{request.request_id}/ptr/{attempt}/{operation}/{address}"
        specs.append(
            DnsRequestSpec(
                request_id=str(uuid.uuid5(_NAMESPACE, key)),
                account_id=request.account_id,
                source=PTR_SOURCE,
                record_type="PTR",
                domain=ptr_name,
                zone=zone,
                target=request.domain,
                ttl=request.ttl,
                operation=operation,
                comment=f"PTR of {request.record_type} {request.domain} (request {request.request_id})",
            )
        )
    return specs


def ptrs_written(change: DnsChange, reverse_zones: list[str]) -> list[str]:
    """The PTR names a forward create or update will make its PTR requests write."""
    if change.record_type not in FORWARD_TYPES or change.operation not in ("create", "update"):
        return []
    found = (reverse_zone_of(address, reverse_zones) for address in change.values)
    return [ptr_name for ptr_name, _ in filter(None, found)]


def unkept_ptr(ptr_name: str, forward: str, served: list[str], *, kept: bool, deleting: bool) -> str:
    """Why the PTR at `ptr_name` (serving `served`) must not be written for `forward`, or "" when it may.

    dnsorch never overwrites a PTR it does not keep (`kept`: `dns_records` holds one there), and a
    delete takes only the PTR that names `forward`: an address's PTR naming another host is someone
    else's, made by hand or kept for another record."""
    if not served or same_rrset([f"{forward.rstrip('.')}."], served, "PTR"):
        return ""
    shown = ", ".join(served)
    if deleting:
        return f"unmanaged_ptr: PTR {ptr_name} serves {shown}, not {forward}: dnsorch leaves it alone"
    if kept:
        return ""  # the owner of the record it names decides, at the name's turn
    why = "which dnsorch does not keep: dnsorch will not overwrite it"
    return f"unmanaged_ptr: PTR {ptr_name} serves {shown}, {why}"
