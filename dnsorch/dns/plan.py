"""The plan of a change as a pure value: what applying it would do to the record set a server serves
(add, replace, delete, unchanged; old → new values and TTL), or why it must not be applied, and the
one test of "the same record set" that planning, verification and drift share. The planning activity
(activities/planning.py) asks the server and hands its answers here.
"""

from __future__ import annotations

import dns.name

from dnsorch.contracts import ChangePlan, DnsChange
from dnsorch.dns.records import parse_values, target_host


def same_rrset(
    expected: list[str], served: list[str], rtype: str, origin: dns.name.Name | str | None = None
) -> bool:
    """Compare as parsed rdata, so spelling differences that DNS ignores do not matter.

    Text comparison would flag `"a" "b"` vs `"a""b"`, `\\226` vs a raw byte, `Mail.` vs
    `mail.`, or relative vs absolute targets; parsed rdata compares what goes on the wire.
    """
    return parse_values(rtype, expected, origin) == parse_values(rtype, served, origin)


def target_hosts(change: DnsChange) -> list[str]:
    """The host names an MX or SRV change points at, absolute (`mail.example.test.`)."""
    if change.record_type not in ("MX", "SRV") or change.operation in ("delete", "restore"):
        return []
    hosts = {target_host(rdata) for rdata in parse_values(change.record_type, change.values, change.zone)}
    return sorted(host.to_text() for host in hosts if host is not None)


def pointed_at(change: DnsChange) -> list[tuple[str, bool]]:
    """The hosts a CNAME, MX or SRV create or update points at, absolute, each with whether it must
    have an address (an MX or SRV target must, RFC 5321 §5.1 and RFC 2782; a CNAME's target need only
    exist). A null MX or SRV (`.`) points nowhere on purpose."""
    if change.operation not in ("create", "update"):
        return []
    if change.record_type == "CNAME":
        hosts = [target_host(rdata) for rdata in parse_values("CNAME", change.values, change.zone)]
        return [(host.to_text(), False) for host in hosts if host is not None]
    return [(host, True) for host in target_hosts(change) if host != "."]


def plan_for(
    change: DnsChange, values: list[str], ttl: int | None, cname: list[str], aliased: list[str] | None = None
) -> ChangePlan:
    """The plan for `change`, given the RRset the server serves (`values`, `ttl`), the CNAME at its
    name, and the MX/SRV targets that are CNAMEs on the server (`aliased`)."""
    what = f"{change.record_type} {change.domain}"
    new_ttl = None if change.operation == "delete" else change.ttl
    plan = ChangePlan("", old_values=values, new_values=list(change.values), old_ttl=ttl, new_ttl=new_ttl)
    same = bool(values) and same_rrset(change.values, values, change.record_type, change.zone)
    if change.operation == "restore":
        return _restore_plan(plan, same and ttl == change.ttl)
    if change.operation == "delete":
        plan.action = "delete" if values else "none"
    elif aliased:
        plan.conflict = (
            f"the {change.record_type} target {aliased[0]} is a CNAME on the DNS server: it must name a host"
            " (RFC 2181 §10.3)"
        )
    elif same and ttl == change.ttl:
        plan.action = "unchanged"
    elif change.operation == "create" and cname:
        plan.conflict = (
            f"unmanaged_name: {change.domain} is a CNAME on the DNS server that dnsorch does not manage"
        )
    elif change.operation == "create" and values:
        served = ", ".join(values)
        plan.conflict = (
            f"unmanaged_name: {what} exists on the DNS server ({served}) but dnsorch does not manage it"
        )
    elif change.operation == "update" and not values:
        plan.conflict = f"{what} does not exist on the DNS server: nothing to update"
    else:
        plan.action = "add" if not values else "replace"
    return plan


def _restore_plan(plan: ChangePlan, same: bool) -> ChangePlan:
    """A `restore` (a rollback, a drift heal) makes the record set exactly its values whatever is served:
    it never conflicts, since putting back what dnsorch recorded is its whole point."""
    if not plan.new_values:
        plan.action, plan.new_ttl = ("delete" if plan.old_values else "none"), None
    elif same:
        plan.action = "unchanged"
    else:
        plan.action = "replace" if plan.old_values else "add"
    return plan
