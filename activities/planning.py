"""Plan before apply: read what the authoritative server serves at the change's name and say what
applying the change would do (add, replace or delete; old → new values and TTL), or why it must
not be applied because data dnsorch does not manage is in the way."""

from __future__ import annotations

import dns.exception
from temporalio import activity

from activities.dns_check import query_rrset, read_rrset, same_rrset
from dnsorch.contracts import ChangePlan, DnsChange
from dnsorch.dns import parse_values, protected_reason, target_host, zone_cut_above
from dnsorch.settings import Settings


class PlanningActivities:
    def __init__(self, settings: Settings) -> None:
        self._server, self._port = settings.dns_server, settings.dns_port

    @activity.defn(name="plan_change")
    async def plan_change(self, change: DnsChange) -> ChangePlan:
        """Local activity: a few queries to the primary; never fails (`unknown` if unanswered)."""
        try:
            if (refused := await self._protected(change)) is not None:
                return ChangePlan("", new_values=change.values, new_ttl=change.ttl, conflict=refused)
            values, ttl = await read_rrset(self._server, self._port, change.domain, change.record_type)
            cname: list[str] = []
            if change.operation == "create" and change.record_type != "CNAME":
                cname, _ = await read_rrset(self._server, self._port, change.domain, "CNAME")
            aliased = [
                host
                for host in _target_hosts(change)
                if (await read_rrset(self._server, self._port, host, "CNAME"))[0]
            ]
        except (dns.exception.DNSException, OSError) as error:
            return ChangePlan(
                "unknown", new_values=change.values, new_ttl=change.ttl, note=type(error).__name__
            )
        return plan_for(change, values, ttl, cname, aliased)

    async def _protected(self, change: DnsChange) -> str | None:
        """Checked at the name's turn against what the primary serves now (accept checked what it
        could without asking DNS): the zone's name servers and zone cuts are not a submitter's.
        A restore puts back what was served before, so it is never refused."""
        if change.operation == "restore":
            return None
        if (early := protected_reason(change.domain, change.zone, source=change.source)) is not None:
            return early
        return protected_reason(
            change.domain,
            change.zone,
            source=change.source,
            record_type=change.record_type,
            ns_targets=await query_rrset(self._server, self._port, change.zone, "NS"),
            zone_cut=await zone_cut_above(self._server, self._port, change.domain, change.zone),
        )


def _target_hosts(change: DnsChange) -> list[str]:
    """The host names an MX or SRV change points at, absolute (`mail.example.test.`)."""
    if change.record_type not in ("MX", "SRV") or change.operation in ("delete", "restore"):
        return []
    hosts = {target_host(rdata) for rdata in parse_values(change.record_type, change.values, change.zone)}
    return sorted(host.to_text() for host in hosts if host is not None)


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
