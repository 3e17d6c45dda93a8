"""Adopting a zone on a real BIND and PostgreSQL: a zone loaded by hand becomes managed records of the
named account, once; conflicts are reported and left alone; adopted records are then changed through
the API like any other, by their owner only.

The zones are this module's own, on a BIND of its own (the session's BIND is shared by other tests),
so the test knows every record they hold.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.name
import dns.query
import dns.rcode
import dns.tsig
import dns.update
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import col

from devstack.bind import BindServer, ensure_tsig_key
from devstack.temporal import TemporalDevServer
from dnsorch.dns import tsig_key
from dnsorch.requests import queries
from dnsorch.settings import Settings
from dnsorch.store import DnsRecord, keys, name_transfers
from dnsorch.store.request_rows import insert_request
from dnsorch.zones import adoption
from tests.fixtures.dns import served
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.servers import free_port
from tests.fixtures.specs import request_spec

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:6]
ZONE = f"adopt-{RUN}.test"
MIXED = f"mixed-{RUN}.test"
API_ZONE = f"api-{RUN}.test"
OWNER = "acct-adopter"

# Twenty record sets of the types dnsorch manages, one value each, as a zone maintained by hand holds.
TWENTY = [
    ("www", "A", "192.0.2.10"),
    ("www", "AAAA", "2001:db8::10"),
    ("api", "A", "192.0.2.11"),
    ("api", "AAAA", "2001:db8::11"),
    ("mail", "A", "192.0.2.25"),
    ("@", "MX", "10 mail"),
    ("@", "TXT", '"v=spf1 mx -all"'),
    ("_dmarc", "TXT", '"v=DMARC1; p=reject; rua=mailto:dmarc@example.net"'),
    ("note", "TXT", '"hello world, with spaces"'),
    ("docs", "CNAME", "www"),
    ("blog", "CNAME", "www"),
    ("sip", "A", "192.0.2.50"),
    ("_sip._tcp", "SRV", "10 5 5060 sip"),
    ("chat", "A", "192.0.2.51"),
    ("chat", "AAAA", "2001:db8::51"),
    ("_xmpp-client._tcp", "SRV", "20 0 5222 chat"),
    ("lists", "MX", "20 mail"),
    ("status", "A", "192.0.2.60"),
    ("cdn", "CNAME", "edge.cdn.example.net."),
    ("verify", "TXT", '"site-verification=abc123"'),
]


class AdoptionBind:
    def __init__(self, server: BindServer, key_file: Path) -> None:
        self.server, self.key_file = server, key_file
        self.host, self.port = server.host, server.port

    def load(self, zone: str, rrsets: list[tuple[str, str, str]], ttl: int = 300) -> None:
        """Add record sets by hand: one TSIG-signed UPDATE, as an operator's nsupdate would."""
        origin = dns.name.from_text(zone)
        update = dns.update.UpdateMessage(origin, keyring=tsig_key(self.key_file))
        for label, rtype, value in rrsets:
            name = origin if label == "@" else dns.name.from_text(label, origin)
            for one in value.split(" | "):  # several values in one record set
                update.add(name, ttl, rtype, one)
        response = dns.query.tcp(update, self.host, port=self.port, timeout=5)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())


@pytest.fixture(scope="module")
def adoption_bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdoptionBind]:
    """A BIND of this module's own. `check_integrity` off: a zone kept by hand may hold an MX whose
    target is a CNAME."""
    workdir = tmp_path_factory.mktemp("adopt-bind")
    key_file = workdir / "tsig.key"
    ensure_tsig_key(key_file)
    server = BindServer(workdir, [ZONE, MIXED, API_ZONE], free_port(), key_file, check_integrity=False)
    server.start()
    try:
        yield AdoptionBind(server, key_file)
    finally:
        server.stop()


@pytest.fixture
def settings(adoption_bind: AdoptionBind, database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        dns_server=adoption_bind.host,
        dns_port=adoption_bind.port,
        tsig_key_file=adoption_bind.key_file,
        dns_zones=[ZONE, MIXED, API_ZONE],
        state_dir=tmp_path / "state",
    )


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ENV": "test",
        "STATE_DIR": str(settings.state_dir),
        "DATABASE_URL": settings.database_url,
        "DNS_SERVER": settings.dns_server,
        "DNS_PORT": str(settings.dns_port),
        "DNS_ZONES": ",".join(settings.dns_zones),
        "TSIG_KEY_FILE": str(settings.tsig_key_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "dnsorch.cli", "zones", "adopt", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def managed_in(engine: Engine, zone: str) -> int:
    with engine.connect() as conn:
        in_zone = col(DnsRecord.domain).endswith("." + zone) | (col(DnsRecord.domain) == zone)
        return conn.execute(
            select(func.count()).select_from(DnsRecord).where(in_zone, col(DnsRecord.deleted_at).is_(None))
        ).scalar_one()


def by_name(plan: adoption.AdoptionPlan, action: adoption.Action) -> dict[tuple[str, str], str]:
    return {(r.domain, r.record_type): r.reason for r in plan.of(action)}


def test_a_hand_loaded_zone_is_adopted_once_with_the_named_owner(
    adoption_bind: AdoptionBind, settings: Settings, engine: Engine
) -> None:
    adoption_bind.load(ZONE, TWENTY)

    dry = cli(settings, ZONE, "--owner", OWNER, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was written; 20 adopt, 0 already_managed, 0 conflict" in dry.stdout, dry.stdout
    assert f"skip            A      ns1.{ZONE}" in dry.stdout  # the zone's own name server's glue
    assert managed_in(engine, ZONE) == 0

    adopted = cli(settings, ZONE, "--owner", OWNER, "--operator", "alice")
    assert adopted.returncode == 0, adopted.stderr
    assert f"adopted 20 record sets for {OWNER}" in adopted.stdout

    rows = queries.list_records(engine, domain=None, zone=ZONE, record_type=None, account_id=None)
    assert len(rows) == 20
    assert {(request.account_id, request.source, request.status) for _, request in rows} == {
        (OWNER, "adoption", "COMPLETED")
    }
    stored = {(record.domain, record.record_type): (record, request) for record, request in rows}
    assert set(stored) == {(f"{label}.{ZONE}".removeprefix("@."), rtype) for label, rtype, _ in TWENTY}
    assert stored[(ZONE, "TXT")][0].target == "v=spf1 mx -all"
    assert stored[(f"note.{ZONE}", "TXT")][0].target == "hello world, with spaces"
    srv, srv_request = stored[(f"_sip._tcp.{ZONE}", "SRV")]
    assert (srv.target, srv.priority, srv_request.config["extra_config"]) == (
        f"sip.{ZONE}",
        10,
        {"port": 5060, "weight": 5},
    )
    assert stored[(f"cdn.{ZONE}", "CNAME")][0].target == "edge.cdn.example.net"
    [line] = srv_request.log_messages
    assert line["actor"] == "adoption" and f"adopted from zone {ZONE} by alice" in line["message"]

    www = name_transfers.get(engine, f"www.{ZONE}")
    assert www.account_id == OWNER
    [transfer] = www.transfers
    assert (transfer.to_account, transfer.actor, transfer.note) == (
        OWNER,
        "alice",
        f"adopted from zone {ZONE} by alice",
    )

    again = adoption.adopt_zone(engine, settings, ZONE, OWNER, "alice")
    assert (again.adopted, again.names_claimed) == (0, 0)
    assert again.plan.counts["already_managed"] == 20 and again.plan.counts["adopt"] == 0
    assert managed_in(engine, ZONE) == 20
    assert len(name_transfers.get(engine, f"www.{ZONE}").transfers) == 1


def test_conflicts_and_what_dnsorch_does_not_manage_are_reported_and_left_alone(
    adoption_bind: AdoptionBind, settings: Settings, engine: Engine
) -> None:
    adoption_bind.load(
        MIXED,
        [
            ("web.team-a", "A", "192.0.2.80"),
            ("changed", "A", "192.0.2.81"),
            ("alias", "CNAME", f"web.team-a.{MIXED}."),
            ("mx-at-alias", "MX", "10 alias"),
            ("pair", "A", "192.0.2.82 | 192.0.2.83"),
            ("split", "TXT", '"abc" "def"'),
            ("caa", "CAA", '0 issue "ca.example.net"'),
            ("child", "NS", "ns.child.example.net."),
            ("ns.child", "A", "192.0.2.99"),
            ("fine", "A", "192.0.2.84"),
            ("@", "NS", "ns2"),  # a second name server of the zone's own, with its glue
            ("ns2", "A", "192.0.2.53"),
            ("ns2", "TXT", '"managed like any name"'),
        ],
    )
    first = adoption.adopt_zone(engine, settings, MIXED, "acct-team-a", "bob", under=f"team-a.{MIXED}")
    assert first.adopted == 1
    adoption.adopt_zone(engine, settings, MIXED, OWNER, "bob", under=f"changed.{MIXED}")
    adoption_bind.load(MIXED, [("changed", "A", "192.0.2.91")])  # edited by hand after adoption...
    update = dns.update.UpdateMessage(MIXED, keyring=tsig_key(adoption_bind.key_file))
    update.delete(f"changed.{MIXED}.", "A", "192.0.2.81")  # ... so DNS and dnsorch now disagree
    assert dns.query.tcp(update, adoption_bind.host, port=adoption_bind.port, timeout=5).rcode() == 0

    plan = adoption.plan_adoption(engine, settings, MIXED, OWNER)
    conflicts = by_name(plan, adoption.Action.CONFLICT)
    assert conflicts[(f"web.team-a.{MIXED}", "A")] == "the name belongs to account acct-team-a"
    assert conflicts[(f"changed.{MIXED}", "A")].startswith("dnsorch manages it as 192.0.2.81 (TTL 300)")
    assert "is a CNAME" in conflicts[(f"mx-at-alias.{MIXED}", "MX")]
    assert conflicts[(f"pair.{MIXED}", "A")] == "holds 2 values; dnsorch manages one value per record set"
    assert conflicts[(f"split.{MIXED}", "TXT")].startswith('dnsorch would write it as "abcdef"')
    skipped = by_name(plan, adoption.Action.SKIP)
    assert skipped[(f"caa.{MIXED}", "CAA")] == "CAA is not a type dnsorch manages"
    assert skipped[(f"ns.child.{MIXED}", "A")] == f"delegated to another zone at child.{MIXED}"
    assert skipped[(MIXED, "SOA")] == "the zone's SOA"
    assert skipped[(MIXED, "NS")] == "the zone's own name servers"
    assert skipped[(f"ns2.{MIXED}", "A")] == skipped[(f"ns1.{MIXED}", "A")]
    assert skipped[(f"ns2.{MIXED}", "A")] == "address (glue) of the zone's own name server"
    assert set(by_name(plan, adoption.Action.ADOPT)) == {
        (f"alias.{MIXED}", "CNAME"),
        (f"fine.{MIXED}", "A"),
        (f"ns2.{MIXED}", "TXT"),
    }

    result = adoption.adopt_zone(engine, settings, MIXED, OWNER, "bob")
    assert result.adopted == 3
    rows = queries.list_records(engine, domain=None, zone=MIXED, record_type=None, account_id=None)
    kept = {(r.domain, r.target): q.account_id for r, q in rows}
    assert kept[(f"web.team-a.{MIXED}", "192.0.2.80")] == "acct-team-a"
    assert kept[(f"changed.{MIXED}", "192.0.2.81")] == OWNER  # not overwritten with what DNS serves
    assert name_transfers.get(engine, f"web.team-a.{MIXED}").account_id == "acct-team-a"
    assert (f"pair.{MIXED}", "192.0.2.82") not in kept


def test_adoption_refuses_a_zone_dnsorch_does_not_manage_and_a_wrong_key(
    adoption_bind: AdoptionBind, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    with pytest.raises(adoption.AdoptionRefused, match="not one of the zones dnsorch manages"):
        adoption.plan_adoption(engine, settings, "elsewhere.test", OWNER)
    wrong = tmp_path / "wrong.key"
    ensure_tsig_key(wrong)
    refused = cli(settings.model_copy(update={"tsig_key_file": wrong}), ZONE, "--owner", OWNER, "--dry-run")
    assert refused.returncode == 1
    assert "refused" in refused.stderr
    assert wrong.read_text().split('secret "')[1].split('"')[0] not in refused.stderr + refused.stdout


@pytest.fixture(scope="module")
def adoption_stack(
    adoption_bind: AdoptionBind,
    database_url: str,
    temporal_server: TemporalDevServer,
    engine: Engine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProcessStack]:
    """An API and a worker of their own whose DNS server is this module's BIND."""
    env = {
        "DNSORCH_API_KEY": keys.create_key(engine, "acct-adopt-admin", "admin", f"adopt-admin-{RUN}")[1],
        "ENV": "test",
        "STATE_DIR": str(tmp_path_factory.mktemp("adopt-state")),
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_server.address,
        "TEMPORAL_TASK_QUEUE": f"adopt-{RUN}",
        "DNS_SERVER": adoption_bind.host,
        "DNS_PORT": str(adoption_bind.port),
        "DNS_ZONES": ",".join([ZONE, MIXED, API_ZONE]),
        "TSIG_KEY_FILE": str(adoption_bind.key_file),
        "API_PORT": str(free_port()),
        "API_RATE_PER_SECOND": "1000",
        "API_RATE_BURST": "1000",
        "ANSIBLE_INITIAL_RETRY_SECONDS": "1",
    }
    stack = ProcessStack(env, tmp_path_factory.mktemp("adopt-logs"))
    try:
        stack.start("worker")
        stack.start("api")
        yield stack
    finally:
        stack.stop_all()


def v2(domain: str, target: str, operation: str, account: str) -> dict[str, Any]:
    return {
        "operation": operation,
        "context": {"account_id": account},
        "resource": {"record_type": "A", "domain": domain, "target": target, "config": {"ttl": 300}},
    }


def test_the_owner_changes_an_adopted_record_through_the_api_and_nobody_else_can(
    adoption_bind: AdoptionBind, settings: Settings, engine: Engine, adoption_stack: ProcessStack
) -> None:
    adoption_bind.load(API_ZONE, [("app", "A", "192.0.2.120"), ("old", "A", "192.0.2.121")])
    assert adoption.adopt_zone(engine, settings, API_ZONE, OWNER, "carol").adopted == 2
    app, old = f"app.{API_ZONE}", f"old.{API_ZONE}"
    post = adoption_stack.http.post

    taken = post("/api/v2/dns/requests", json=v2(app, "203.0.113.9", "update", "acct-intruder"))
    assert taken.status_code == 409, taken.text
    assert taken.json()["error"]["code"] == "name_owned_by_another_account"

    listed = adoption_stack.http.get("/api/v2/dns/records", params={"domain": app}).json()["items"]
    assert [(r["target"], r["account_id"]) for r in listed] == [("192.0.2.120", OWNER)]

    final = {"COMPLETED", "FAILED", "REJECTED", "NEEDS_ATTENTION", "CANCELLED"}
    for payload, name, expected in (
        (v2(app, "192.0.2.130", "update", OWNER), app, ["192.0.2.130"]),
        (v2(old, "", "delete", OWNER), old, []),
    ):
        accepted = post("/api/v2/dns/requests", json=payload)
        assert accepted.status_code == 202, accepted.text
        request_id = accepted.json()["request_id"]
        if payload["operation"] == "delete":  # risky: it waits for an operator's approval
            held = adoption_stack.wait_for_status(request_id, final | {"PENDING_APPROVAL"})
            assert held["status"] == "PENDING_APPROVAL", held["log_messages"]
            assert post(f"/api/v2/dns/requests/{request_id}/actions/approve", json={}).status_code == 200
        done = adoption_stack.wait_for_status(request_id, final)
        assert done["status"] == "COMPLETED", done["log_messages"]
        assert served(adoption_bind, name) == expected
    current = queries.list_records(engine, domain=None, zone=API_ZONE, record_type=None, account_id=None)
    assert [(r.domain, r.target, q.source) for r, q in current] == [(app, "192.0.2.130", "api")]


def test_adoption_reads_owners_down_the_tree_and_leaves_record_sets_under_way_alone(
    adoption_bind: AdoptionBind, settings: Settings, engine: Engine
) -> None:
    granted, busy = f"tree.{API_ZONE}", f"busy.{API_ZONE}"
    name_transfers.grant(engine, granted, "acct-tree", "op", "their subtree")
    adoption_bind.load(
        API_ZONE,
        [
            ("x.tree", "A", "192.0.2.120"),
            ("_acme-challenge.tree", "TXT", '"token"'),
            ("busy", "A", "192.0.2.121"),
        ],
    )
    with engine.begin() as conn:
        insert_request(
            conn, request_spec(domain=busy, zone=API_ZONE, target="192.0.2.122"), datetime.now(UTC)
        )

    conflicts = by_name(adoption.plan_adoption(engine, settings, API_ZONE, OWNER), adoption.Action.CONFLICT)
    assert conflicts[(f"x.{granted}", "A")] == "the name belongs to account acct-tree"
    assert conflicts[(f"_acme-challenge.{granted}", "TXT")] == "the name belongs to account acct-tree"
    assert conflicts[(busy, "A")] == "a request for it is under way; adopt again once it has finished"
