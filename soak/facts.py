"""What the checker reads after the run: rows, records, dead letters, transfers, workflows, DNS."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.reversename
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from temporalio.client import Client

from dnsorch.dns import parse_values, rdata_values
from dnsorch.store import DnsRecord

FINAL = {"COMPLETED", "FAILED", "CANCELLED", "REJECTED", "ROLLED_BACK"}


@dataclass
class Row:
    id: str
    account_id: str
    source: str
    operation: str
    record_type: str
    domain: str
    target: str
    config: dict[str, Any]
    status: str
    log: list[dict[str, Any]]
    created_at: datetime
    workflow_id: str | None
    idempotency_key: str | None
    message_key: str | None
    expires_at: datetime | None = None

    @property
    def dry_run(self) -> bool:
        return bool(self.config.get("dry_run"))

    def matches(self, body: dict[str, Any]) -> bool:
        """The row is this client body's request (door-independent fields)."""
        try:
            resource = body["resource"]
            return (
                body["context"]["account_id"] == self.account_id
                and resource["domain"].rstrip(".").lower() == self.domain
                and resource["record_type"] == self.record_type
                and body.get("operation", "create") == self.operation
                and (self.operation == "delete" or str(resource.get("target", "")) == self.target)
            )
        except (KeyError, TypeError, AttributeError):
            return False

    def summary(self, with_log: bool = False) -> str:
        text_ = (
            f"{self.id} {self.source} {self.account_id} {self.operation} {self.record_type} {self.domain} "
            f"→ {self.target} [{self.status}]"
        )
        if with_log:
            text_ += " log: " + " | ".join(self.log_tail(8))
        return text_

    def log_tail(self, n: int = 10) -> list[str]:
        return [
            f"{e.get('at', '')[11:23]} {e.get('status') or ''} {e.get('step', '')}: "
            f"{str(e.get('message', ''))[:160]}"
            for e in self.log[-n:]
        ]

    def snapshot(self) -> list[str] | None:
        """The values the plan saw before the change (what a rollback restores), if readable: the
        last usable plan before the first apply (workflows/story.py `may_snapshot`). A retry's plan
        sees the request's own change (or, for a delete, nothing) and is not the snapshot: taking it
        called a rollback of a retried expiry delete wrong (SEED=11 N=300)."""
        chosen: dict[str, Any] | None = None
        for entry in self.log:
            if entry.get("step") in ("verify", "ttl-dance") or (
                entry.get("step") == "apply" and "Ansible" in str(entry.get("message", ""))
            ):
                break
            plan = entry.get("plan")
            if isinstance(plan, dict) and plan.get("action") != "unknown" and not plan.get("conflict"):
                chosen = plan
        if chosen is None:
            chosen = next((e["plan"] for e in reversed(self.log) if isinstance(e.get("plan"), dict)), None)
        if (
            chosen is None
            or chosen.get("action") == "unknown"
            or not isinstance(chosen.get("old_values"), list)
        ):
            return None
        return [str(v) for v in chosen["old_values"]]


def final_at(row: Row) -> datetime | None:
    """When the request reached its final status (its last status entry)."""
    for entry in reversed(row.log):
        if entry.get("status") in FINAL:
            return datetime.fromisoformat(entry["at"])
    return None


@dataclass
class Run:
    workflow_id: str
    run_id: str
    status: str
    start: datetime | None
    close: datetime | None


def record_summary(record: DnsRecord) -> str:
    """A `dns_records` row in one line, for a violation's evidence."""
    gone = f", retired {record.deleted_at.isoformat()[11:23]}" if record.deleted_at else ""
    return (
        f"dns_records row of {record.request_id}: {record.record_type} {record.domain} → {record.target} "
        f"TTL {record.ttl} provisioned {record.provisioned_at.isoformat()[11:23]}{gone}"
    )


@dataclass
class Expected:
    values: frozenset[dns.rdata.Rdata]
    ttl: int | None

    def text(self) -> str:
        return str(sorted(v.to_text() for v in self.values)) if self.values else "nothing"


@dataclass
class Served:
    values: frozenset[dns.rdata.Rdata]
    ttl: int | None
    error: str = ""

    @property
    def values_text(self) -> list[str]:
        return sorted(v.to_text() for v in self.values)

    def text(self) -> str:
        return str(self.values_text) if self.values else "nothing"


@dataclass
class Server:
    host: str
    port: int


def served_rrset(server: Server, name: str, rtype: str) -> Served:
    """The RRset at exactly `name` and `rtype`, asked over TCP without recursion."""
    qname = dns.name.from_text(name)
    query = dns.message.make_query(qname, rtype)
    query.flags &= ~dns.flags.RD
    try:
        response = dns.query.tcp(query, server.host, port=server.port, timeout=5)
    except (dns.exception.DNSException, OSError) as error:
        return Served(frozenset(), None, repr(error))
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return Served(frozenset(), None, dns.rcode.to_text(response.rcode()))
    rrset = response.get_rrset(response.answer, qname, dns.rdataclass.IN, dns.rdatatype.from_text(rtype))
    if rrset is None:
        return Served(frozenset(), None)
    return Served(frozenset(rrset), rrset.ttl)


@dataclass
class Facts:
    rows: dict[str, Row]
    records: list[DnsRecord]
    dead_letters: dict[tuple[int, int], str]
    transfers: list[dict[str, Any]]
    workflows: dict[str, list[Run]]
    servers: dict[str, Server]
    expected: dict[tuple[str, str], Expected] = field(default_factory=dict)

    def dead_letter(self, produce_event: dict[str, Any]) -> str | None:
        if "offset" not in produce_event:
            return None
        return self.dead_letters.get((produce_event["partition"], produce_event["offset"]))

    def rows_for(self, domain: str, rtype: str) -> list[Row]:
        found = [r for r in self.rows.values() if r.domain == domain and r.record_type == rtype]
        return sorted(found, key=lambda r: r.created_at)

    def current_rows(self, domain: str, rtype: str) -> list[DnsRecord]:
        return [
            r for r in self.records if r.domain == domain and r.record_type == rtype and r.deleted_at is None
        ]


async def run_gather(
    engine: Engine, temporal: Client, servers: dict[str, Server], asked: set[tuple[str, str]]
) -> Facts:
    with engine.connect() as conn:
        rows = {
            str(r.id): Row(
                str(r.id),
                r.account_id,
                r.source,
                r.operation,
                r.record_type,
                r.domain,
                r.target,
                r.config or {},
                r.status,
                r.log_messages or [],
                r.created_at,
                r.workflow_id,
                r.idempotency_key,
                r.message_key,
                r._mapping.get("expires_at"),
            )
            for r in conn.execute(text("SELECT * FROM dns_requests"))
        }
        with Session(conn) as session:  # the product's table model: every row, retired ones too
            records = list(session.exec(select(DnsRecord)))
        dead = {
            (r.partition, r.offset): r.reason
            for r in conn.execute(text("SELECT * FROM dead_letters WHERE topic = 'dns_requests'"))
        }
        transfers = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM name_transfers ORDER BY at"))]
    workflows: dict[str, list[Run]] = defaultdict(list)
    async for execution in temporal.list_workflows('WorkflowType = "DnsProvisioningWorkflow"'):
        status = execution.status.name if execution.status is not None else "?"
        workflows[execution.id].append(
            Run(execution.id, execution.run_id, status, execution.start_time, execution.close_time)
        )
    facts = Facts(rows, records, dead, transfers, dict(workflows), servers)
    facts.expected = expected_record_sets(facts, asked)
    return facts


def expected_record_sets(facts: Facts, asked: set[tuple[str, str]]) -> dict[tuple[str, str], Expected]:
    """Every record set to look at, with what `dns_records` says it holds (nothing when no current row)."""
    keys = set(asked)
    keys |= {(r.domain, r.record_type) for r in facts.records}
    keys |= {(r.domain, r.record_type) for r in facts.rows.values()}
    for domain, rtype in list(keys):
        if rtype == "A":  # every address asked for: its PTR, kept or not
            for row in facts.rows_for(domain, rtype):
                try:
                    ipaddress.IPv4Address(row.target)
                except ValueError:
                    continue
                keys.add((dns.reversename.from_address(row.target).to_text(omit_final_dot=True), "PTR"))
    expected = {}
    for domain, rtype in keys:
        current = facts.current_rows(domain, rtype)
        if not current:
            expected[(domain, rtype)] = Expected(frozenset(), None)
            continue
        record = max(current, key=lambda r: r.provisioned_at)
        request = facts.rows.get(str(record.request_id))
        extra = (request.config.get("extra_config") if request else None) or {}
        values = rdata_values(rtype, record.target, record.priority, extra)
        expected[(domain, rtype)] = Expected(frozenset(parse_values(rtype, values)), record.ttl)
    return expected
