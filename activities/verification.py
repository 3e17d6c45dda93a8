"""Verify everywhere: a change counts only when every authoritative server of its zone serves it.

The apply step already waited for the primary; secondaries follow by NOTIFY and zone transfer, so
the workflow asks them here (local activities) and, between checks, waits on durable timers.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import dns.exception
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import metrics
from activities.dns_check import read_rrset
from dnsorch.contracts import SERVERS_UNKNOWN, NameServer, ServedCheck, ServerAnswer, ZoneServed
from dnsorch.dns import authoritative_servers, parse_servers, same_rrset
from dnsorch.settings import Settings

_ASK_EVERY = 0.1  # seconds between two questions to a server that does not serve the change yet


class VerificationActivities:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn(name="authoritative_servers")
    async def authoritative_servers(self, zone: str) -> list[NameServer]:
        """The servers that must all serve a change in `zone` (resolved once per request)."""
        settings = self._settings
        if settings.dns_verify_servers:
            return parse_servers(settings.dns_verify_servers, settings.dns_port)
        return await authoritative_servers(settings.dns_server, settings.dns_port, zone)

    @activity.defn(name="check_served_in_zone")
    async def check_served_in_zone(self, check: ServedCheck) -> ZoneServed:
        """The first check of a zone (patch `fewer-round-trips`): its servers, looked up as in
        `authoritative_servers` (the check's own `servers` are not used), and their answers, in one
        local activity. A failed lookup raises SERVERS_UNKNOWN with the lookup's own message."""
        try:
            servers = await self.authoritative_servers(check.change.zone)
        except Exception as error:
            message = error.message if isinstance(error, ApplicationError) else str(error)
            raise ApplicationError(message, type=SERVERS_UNKNOWN) from error
        answers = await self.check_served(ServedCheck(check.change, servers, check.since, check.wait_seconds))
        return ZoneServed(servers, answers)

    @activity.defn(name="check_served")
    async def check_served(self, check: ServedCheck) -> list[ServerAnswer]:
        """Each server's answer; those not serving yet are asked again for up to `wait_seconds`."""
        deadline = time.monotonic() + check.wait_seconds
        answers = await asyncio.gather(*(_ask(server, check, deadline) for server in check.servers))
        for answer in answers:
            if answer.seconds is not None:
                metrics.observe_propagation(answer.server.name, answer.seconds)
        return list(answers)


async def _ask(server: NameServer, check: ServedCheck, deadline: float) -> ServerAnswer:
    change = check.change
    expected = [] if change.operation == "delete" else change.values
    while True:
        answer = ServerAnswer(server, serves=False)
        try:
            per_query = max(0.2, min(1.0, deadline - time.monotonic()))
            answer.served, ttl = await read_rrset(
                server.address, server.port, change.domain, change.record_type, timeout=per_query
            )
        except (dns.exception.DNSException, OSError) as error:
            answer.error = f"{type(error).__name__}: {error}"
        else:
            right_ttl = not change.verify_ttl or not expected or ttl == change.ttl
            if same_rrset(expected, answer.served, change.record_type, change.zone + ".") and right_ttl:
                answer.serves = True
                answer.seconds = max(0.0, (datetime.now(UTC) - check.since).total_seconds())
                return answer
        if time.monotonic() + _ASK_EVERY > deadline:
            return answer
        await asyncio.sleep(_ASK_EVERY)
