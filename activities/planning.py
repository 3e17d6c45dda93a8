"""Plan before apply: read what the authoritative server serves at the change's name and say what
applying the change would do (add, replace or delete; old → new values and TTL), or why it must
not be applied because data dnsorch does not manage is in the way."""

from __future__ import annotations

import dns.exception
from temporalio import activity

from activities.dns_check import query_rrset, read_rrset
from dnsorch.contracts import ChangePlan, DnsChange
from dnsorch.dns import plan_for, protected_reason, target_hosts, zone_cut_above
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
                for host in target_hosts(change)
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
