"""The approval policy, asked again when a scheduled request is due (issue 26): at accept the zone was
as it was then; hours later a TTL may be longer, or more of the zone in flight, and a change that was
routine may be risky now (dnsorch/requests/approval.py judges both times, on the same facts)."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from temporalio import activity

from dnsorch.contracts import DnsRequestSpec, Judgement
from dnsorch.requests import approval
from dnsorch.settings import Settings
from dnsorch.store import read_zone_facts


class JudgingActivities:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._settings, self._engine = settings, engine

    @activity.defn(name="judge_request")
    async def judge_request(self, spec: DnsRequestSpec) -> Judgement:
        """Local activity: the verdict on `spec` against the zone's facts in PostgreSQL now."""

        def read() -> Judgement:
            with self._engine.connect() as conn:
                facts = read_zone_facts(conn, spec)
            held = approval.verdict(spec, self._settings, facts)
            return Judgement(required=held.required, reasons=held.reasons, approvers=held.approvers)

        return await asyncio.to_thread(read)
