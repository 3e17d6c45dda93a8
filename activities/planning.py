"""Plan before apply: read what the authoritative server serves at the change's name and say what
applying the change would do (add, replace or delete; old → new values and TTL), or why it must
not be applied because data dnsorch does not manage is in the way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import dns.exception
import dns.name
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from temporalio import activity

from activities.dns_check import query_rrset, read_rrset
from dnsorch.contracts import EXPIRY_SOURCE, PTR_SOURCE, ChangePlan, DnsChange
from dnsorch.dns import (
    is_reverse_zone,
    name_exists,
    plan_for,
    pointed_at,
    protected_reason,
    ptrs_written,
    target_hosts,
    unkept_ptr,
    zone_cut_above,
)
from dnsorch.settings import Settings
from dnsorch.store import expiries, served_records

T = TypeVar("T")
DB_WAIT = 7.0
"""How long one attempt's PostgreSQL read waits for PostgreSQL to answer (the plan's timeout is 10 s,
with three attempts): a short outage must not use up the attempts, or the workflow fails."""
DB_PAUSE = 0.5
MAX_CNAME_CHAIN = 16
"""How far a CNAME target's chain is followed on the primary, looking for a loop."""


class PlanningActivities:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        """`engine`: where "what dnsorch keeps" is read (a PTR it does not keep is never written)."""
        self._server, self._port = settings.dns_server, settings.dns_port
        self._reverse_zones = [zone for zone in settings.dns_zones if is_reverse_zone(zone)]
        self._engine = engine
        self._zones = [dns.name.from_text(zone) for zone in settings.dns_zones]

    @activity.defn(name="plan_change")
    async def plan_change(self, change: DnsChange) -> ChangePlan:
        """Local activity: a few queries to the primary; never fails (`unknown` if unanswered)."""
        try:
            values, ttl = await read_rrset(self._server, self._port, change.domain, change.record_type)
            cname: list[str] = []
            if change.operation == "create" and change.record_type != "CNAME":
                cname, _ = await read_rrset(self._server, self._port, change.domain, "CNAME")
            aliased = [  # the primary answers only for its own zones (REFUSED elsewhere)
                host
                for host in target_hosts(change)
                if self._managed(host) and (await read_rrset(self._server, self._port, host, "CNAME"))[0]
            ]
            plan = plan_for(change, values, ttl, cname, aliased)
            # What is served stays in the plan when the change is refused: a cancel or a rollback
            # asks this same question to learn what the primary serves now.
            refused = await self._protected(change) or await self._unkept_ptr(change, values)
            if refused := refused or await self._cname_loop(change):
                plan.conflict = refused
            elif not plan.conflict:
                plan.dangling = await self._dangling(change)
        except (dns.exception.DNSException, OSError) as error:
            plan = ChangePlan(
                "unknown", new_values=change.values, new_ttl=change.ttl, note=type(error).__name__
            )
        if change.source == EXPIRY_SOURCE and change.operation == "delete" and not plan.conflict:
            if why := await _read(self._superseded, change.request_id):
                plan.conflict, plan.dangling = f"superseded: {why}", []
        return plan

    def _superseded(self, delete_id: str) -> str:
        """An expiry's delete, at its turn: is the record still the expiring one (issue 26)?"""
        with self._engine.connect() as conn:
            return expiries.superseded_delete(conn, delete_id)

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

    async def _unkept_ptr(self, change: DnsChange, served: list[str]) -> str:
        """A PTR dnsorch does not keep is someone else's: a forward change that would make its PTR
        request overwrite one is refused before anything is applied, and a PTR request (planned at
        its own turn, after the forward change) checks again, since DNS may have changed since.
        `served`: what the primary serves at the change's own name, read just before."""
        if change.source == PTR_SOURCE:
            if not change.ptr_of or change.operation not in ("restore", "delete"):
                return ""
            deleting, read = change.operation == "delete", served if change.record_type == "PTR" else None
            return await self._judge_ptr(change.domain, change.ptr_of, deleting=deleting, served=read)
        for ptr_name in ptrs_written(change, self._reverse_zones):
            if why := await self._judge_ptr(ptr_name, change.domain, deleting=False):
                return why
        return ""

    async def _judge_ptr(
        self, ptr_name: str, forward: str, *, deleting: bool, served: list[str] | None = None
    ) -> str:
        if served is None:
            served, _ = await read_rrset(self._server, self._port, ptr_name, "PTR")
        kept = bool(served) and not deleting and await _read(self._keeps_ptr, ptr_name)
        return unkept_ptr(ptr_name, forward, served, kept=kept, deleting=deleting)

    async def _cname_loop(self, change: DnsChange) -> str:
        """A CNAME whose target leads back to its own name through the CNAMEs the primary serves
        would be a loop no resolver follows (both names then answer SERVFAIL)."""
        if change.record_type != "CNAME" or change.operation not in ("create", "update"):
            return ""
        own = dns.name.from_text(change.domain)
        for first, _ in pointed_at(change):
            host = dns.name.from_text(first)
            for _ in range(MAX_CNAME_CHAIN):
                if host == own:
                    return f"the CNAME target {first} leads back to {change.domain}: a CNAME loop"
                if not self._managed(host.to_text()):
                    break
                aliases, _ = await read_rrset(self._server, self._port, host.to_text(), "CNAME")
                if not aliases:
                    break
                host = dns.name.from_text(aliases[0])
        return ""

    def _keeps_ptr(self, ptr_name: str) -> bool:
        with self._engine.connect() as conn:
            return served_records.recorded(conn, ptr_name, "PTR") is not None

    async def _dangling(self, change: DnsChange) -> list[str]:
        """The targets in a managed zone the primary does not resolve (others are not judged here)."""
        found = []
        for host, needs_address in pointed_at(change):
            if not self._managed(host):
                continue
            if needs_address:
                resolves = await self._has_address(host)
            else:
                resolves = await name_exists(self._server, self._port, host)
            if not resolves:
                found.append(host)
        return found

    async def _has_address(self, host: str) -> bool:
        for rtype in ("A", "AAAA"):
            if (await read_rrset(self._server, self._port, host, rtype))[0]:
                return True
        return False

    def _managed(self, host: str) -> bool:
        name = dns.name.from_text(host)
        return any(name.is_subdomain(zone) for zone in self._zones)


async def _read(read: Callable[..., T], *args: object) -> T:
    """`read(*args)` in a thread, tried again while PostgreSQL cannot be reached, for up to DB_WAIT."""
    deadline = time.monotonic() + DB_WAIT
    while True:
        try:
            return await asyncio.to_thread(read, *args)
        except OperationalError:
            if time.monotonic() + DB_PAUSE > deadline:
                raise
            activity.logger.warning("the plan waits for PostgreSQL")
            await asyncio.sleep(DB_PAUSE)
