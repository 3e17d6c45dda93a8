"""Drift activities: scan a zone (every authoritative server read once, compared in memory with
`dns_records`) and start one request per drifted managed record set.

Each server is read by one TSIG-signed AXFR (a zone of 1,000 record sets in well under a second); a
server that refuses the transfer is asked for the managed record sets one by one, a bounded number
at a time. PostgreSQL is read after DNS, so a request that completed while the servers were read is
seen, and its record set (provisioned after the read began) is left for the next scan.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import dns.exception
from sqlalchemy import Engine
from temporalio import activity

from dnsorch.contracts import (
    DnsRequestSpec,
    DriftedRRset,
    DriftRequests,
    DriftRequestStart,
    NameServer,
    ProvisioningInput,
    ZoneScan,
    ZoneScanInput,
)
from dnsorch.dns import (
    ZoneTransferFailed,
    authoritative_servers,
    comparison,
    parse_servers,
    read_rrset,
    read_zone,
)
from dnsorch.logging import bind_request_id
from dnsorch.requests import apply_policy
from dnsorch.settings import Settings
from dnsorch.store import ManagedZone, read_managed_zone, request_rows, unfinished_requests
from dnsorch.temporal import ProvisioningGateway
from dnsorch.zones import drift

SCAN_SECONDS = "dnsorch_drift_scan_seconds"
RRSETS = "dnsorch_drift_rrsets"
QUERIES_IN_FLIGHT = 32
"""Questions one scan asks a server at once when it must ask record set by record set."""
SETTLE = timedelta(seconds=2)
"""A record set provisioned this close to the servers' read is left for the next scan (clocks differ)."""


class DriftActivities:
    def __init__(self, engine: Engine, settings: Settings, gateway: ProvisioningGateway) -> None:
        self._engine = engine
        self._settings = settings
        self._gateway = gateway

    @activity.defn(name="scan_zone_for_drift")
    async def scan_zone(self, scan: ZoneScanInput) -> ZoneScan:
        began, read_from = time.monotonic(), datetime.now(UTC)
        servers = await self._servers(scan.zone)
        known = await asyncio.to_thread(self._read_state, scan.zone)  # the keys to ask for if AXFR fails
        views = await asyncio.gather(*(self._view(server, scan.zone, known.recorded) for server in servers))
        state = await asyncio.to_thread(self._read_state, scan.zone)
        readable = [view for view in views if isinstance(view, comparison.ServerView)]
        drifted, unmanaged = comparison.find_drift(scan.zone, state.recorded, readable)
        unmanaged = [u for u in unmanaged if _key(u) not in state.pending]  # a create being applied
        settled_before = read_from - SETTLE
        settled = [d for d in drifted if state.provisioned_at[_key(d)] < settled_before]
        for found in settled:
            found.pending_request = state.pending.get(_key(found), "")
        kinds = {
            kind: sum(1 for d in settled if d.kind == kind)
            for kind in (comparison.CHANGED, comparison.MISSING)
        }
        kinds[comparison.UNMANAGED] = len(unmanaged)
        result = ZoneScan(
            zone=scan.zone,
            servers=[server.label for server in servers],
            record_sets=len(state.recorded),
            drifted=settled[: scan.max_requests],
            drifted_count=len(settled),
            unmanaged=unmanaged[: scan.max_listed],
            unmanaged_count=len(unmanaged),
            unreadable=[view for view in views if isinstance(view, str)],
            seconds=round(time.monotonic() - began, 3),
        )
        _log_scan(result)
        _record_metrics(result, kinds)
        return result

    @activity.defn(name="start_drift_requests")
    async def start_requests(self, batch: DriftRequests) -> list[DriftRequestStart]:
        """One request per drifted record set, unless a request is already under way for it."""
        pending = await asyncio.to_thread(self._pending, batch.zone)
        return [await self._start(batch, found, pending) for found in batch.drifted]

    async def _start(
        self, batch: DriftRequests, found: DriftedRRset, pending: dict[comparison.Key, str]
    ) -> DriftRequestStart:
        request_id = drift.request_id_for(batch.zone, found, batch.scan_run_id)
        outcome = DriftRequestStart(found.domain, found.record_type, request_id)
        under_way = pending.get(_key(found))
        if found.record is None:
            outcome.request_id, outcome.note = "", "unmanaged: reported, not touched"
            return outcome
        if under_way is not None and under_way != request_id:
            outcome.request_id, outcome.note = under_way, "left to the request already under way"
            return outcome
        spec = drift.restore_spec(found, request_id, datetime.now(UTC))
        raised = batch.policy != "heal"
        params = ProvisioningInput(
            request=spec,
            policy=apply_policy(self._settings),
            attention_reason=drift.attention_reason(found) if raised else "",
        )
        outcome.started = await self._gateway.start(params)
        await asyncio.to_thread(self._insert_row, spec)  # ON CONFLICT DO NOTHING: a retry adds nothing
        outcome.note = "raised for an operator" if raised else "healing"
        bind_request_id(request_id)
        activity.logger.info(
            "actor drift: %s %s %s: %s",
            outcome.note,
            found.record_type,
            found.domain,
            found.difference(),
        )
        return outcome

    async def _servers(self, zone: str) -> list[NameServer]:
        settings = self._settings
        if settings.dns_verify_servers:
            return parse_servers(settings.dns_verify_servers, settings.dns_port)
        return await authoritative_servers(settings.dns_server, settings.dns_port, zone)

    async def _view(
        self, server: NameServer, zone: str, managed: dict[comparison.Key, comparison.Recorded]
    ) -> comparison.ServerView | str:
        """The server's whole zone by AXFR, else its managed record sets asked one by one; a string
        saying why when it could not be read at all."""
        where = self._settings.model_copy(update={"dns_server": server.address, "dns_port": server.port})
        try:
            served = await asyncio.to_thread(read_zone, where, zone)
        except ZoneTransferFailed as refused:
            activity.logger.warning("drift scan of %s: %s; asking record set by record set", zone, refused)
        else:
            return comparison.zone_view(server.label, served)
        view = comparison.ServerView(server.label, complete=False)
        bound = asyncio.Semaphore(QUERIES_IN_FLIGHT)

        async def ask(rrset: comparison.Key) -> None:
            async with bound:
                values, ttl = await read_rrset(server.address, server.port, rrset[0].to_text(), rrset[1])
            view.asked.add(rrset)
            if values:
                view.rrsets[rrset] = comparison.Served(tuple(sorted(values)), ttl)

        try:
            await asyncio.gather(*(ask(rrset) for rrset in managed))
        except (dns.exception.DNSException, OSError) as error:
            return f"{server.label}: could not be read ({type(error).__name__}: {error})"
        return view

    def _read_state(self, zone: str) -> ManagedZone:
        with self._engine.connect() as conn:
            return read_managed_zone(conn, zone, self._settings.dns_zones)

    def _pending(self, zone: str) -> dict[comparison.Key, str]:
        with self._engine.connect() as conn:
            return unfinished_requests(conn, zone)

    def _insert_row(self, spec: DnsRequestSpec) -> None:
        assert spec.accepted_at is not None
        with self._engine.begin() as conn:
            request_rows.insert_request(conn, spec, spec.accepted_at)


def _key(found: DriftedRRset) -> comparison.Key:
    return comparison.key(found.domain, found.record_type)


def _log_scan(scan: ZoneScan) -> None:
    log = activity.logger
    log.info(
        "actor drift: scanned %s on %s in %.2fs: %d managed record sets, %d drifted, %d unmanaged",
        scan.zone,
        ", ".join(scan.servers),
        scan.seconds,
        scan.record_sets,
        scan.drifted_count,
        scan.unmanaged_count,
    )
    for found in scan.drifted:
        log.warning("actor drift: %s %s", found.kind, found.describe())
    for found in scan.unmanaged:
        log.info("actor drift: unmanaged (reported, not touched) %s", found.describe())
    for why in scan.unreadable:
        log.warning("actor drift: %s", why)


def _record_metrics(scan: ZoneScan, kinds: dict[str, int]) -> None:
    """Gauges of the last scan per zone and kind, and the scan's duration, on the worker's endpoint."""
    meter = activity.metric_meter()
    meter.create_histogram_float(SCAN_SECONDS, "Wall time of one drift scan of a zone.").record(
        scan.seconds, {"zone": scan.zone}
    )
    gauge = meter.create_gauge(RRSETS, "Record sets the last drift scan found, by zone and kind.")
    for kind, count in kinds.items():
        gauge.set(count, {"zone": scan.zone, "kind": kind})
