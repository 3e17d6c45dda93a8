"""What a drift scan reads from PostgreSQL as "what dnsorch keeps" (dnsorch/store/managed_zone.py): every
record with the owner a restore acts for, read as ownership reads it (the tree of names); the PTRs
dnsorch keeps belong to their forward record's owner, so a drifted PTR is restored for the account
that owns the name it points to."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, update
from sqlmodel import col

from dnsorch.dns.comparison import key
from dnsorch.store import DnsRequest, NameOwner, read_managed_zone, request_rows
from dnsorch.store.name_claims import claim_name
from tests.fixtures.records import provisioned
from tests.fixtures.specs import ZONE, fresh_name, request_spec

pytestmark = pytest.mark.integration


def test_a_kept_ptr_is_read_with_its_forward_records_owner(engine: Engine) -> None:
    octets = random.randrange(256), random.randrange(256)
    zone = f"{octets[1]}.{octets[0]}.10.in-addr.arpa"  # a reverse zone of this test's own
    forward, dangling = fresh_name("fwd"), fresh_name("gone")
    with engine.begin() as conn:
        provisioned(
            conn,
            request_spec(account_id="acct-first", domain=forward, target=f"10.{octets[0]}.{octets[1]}.7"),
        )
        for label, target in (("7", forward), ("8", dangling)):
            ptr = request_spec(
                account_id="acct-first",
                source="ptr",
                record_type="PTR",
                domain=f"{label}.{zone}",
                zone=zone,
                target=target,
                operation="restore",
            )
            provisioned(conn, ptr)
        transfer(conn, forward, "acct-now")  # the PTR's own owner row still names the first account

    with engine.connect() as conn:
        state = read_managed_zone(conn, zone, [ZONE, zone])

    kept = state.recorded[key(f"7.{zone}", "PTR")]
    assert kept.values == (f"{forward}.",)
    assert kept.record.account_id == "acct-now", "a PTR belongs to its forward record's owner"
    orphan = state.recorded[key(f"8.{zone}", "PTR")]
    assert orphan.record.account_id == "acct-first", "no forward owner: the PTR's own"


def transfer(conn: Connection, name: str, to_account: str) -> None:
    """What an operator's transfer does to the owner row at `name`."""
    conn.execute(update(NameOwner).where(col(NameOwner.domain) == name).values(account_id=to_account))


def test_a_record_below_an_owned_name_is_read_with_that_names_owner(engine: Engine) -> None:
    web = fresh_name("web")
    below = request_spec(
        account_id="acct-first", record_type="TXT", domain=f"_acme-challenge.{web}", target="t"
    )
    with engine.begin() as conn:
        provisioned(conn, request_spec(account_id="acct-first", domain=web))
        provisioned(conn, below)  # adds no owner row: the name attaches to web's
        transfer(conn, web, "acct-now")

    with engine.connect() as conn:
        state = read_managed_zone(conn, ZONE, [ZONE])

    assert state.recorded[key(below.domain, "TXT")].record.account_id == "acct-now"


def test_a_ptr_that_an_unfinished_forward_request_changes_in_its_apply_is_pending(engine: Engine) -> None:
    """A forward delete applies its PTR's removal in its own apply (patch ptr-in-apply) and holds the
    PTR name's claim meanwhile; its row names only the forward record set. A drift scan that read the
    zone between that apply and the request's stored end must leave the PTR to it, not heal it.
    Found by the soak (test_soak_small, SEED=10 with time-aware stories): an expiry's delete."""
    octets = random.randrange(256), random.randrange(256)
    zone = f"{octets[1]}.{octets[0]}.10.in-addr.arpa"
    forward = fresh_name("leaving")
    ptr_name = f"7.{zone}"
    with engine.begin() as conn:
        provisioned(conn, request_spec(domain=forward, target=f"10.{octets[0]}.{octets[1]}.7"))
        delete = request_spec(domain=forward, operation="delete", target="")
        request_rows.insert_request(conn, delete, datetime.now(UTC))
        claim_name(conn, forward, delete.request_id, 60)
        claim_name(conn, ptr_name, delete.request_id, 60)

    with engine.connect() as conn:
        state = read_managed_zone(conn, zone, [ZONE, zone])

    assert state.pending.get(key(ptr_name, "PTR")) == delete.request_id


def test_the_ptrs_of_a_forward_request_waiting_for_an_operator_are_pending(engine: Engine) -> None:
    """An update that moved its A and its PTR in its own apply, then waits in NEEDS_ATTENTION (its
    old PTR's delete was refused), has let its claims go with that status: a drift scan must still
    leave both its PTR names to it, not heal them back to what dns_records says (found by the soak,
    SEED=11: a TTL dance of an A whose old PTR another record had taken)."""
    octets = random.randrange(256), random.randrange(256)
    zone = f"{octets[1]}.{octets[0]}.10.in-addr.arpa"
    forward, old, new = (
        fresh_name("moving"),
        f"10.{octets[0]}.{octets[1]}.52",
        f"10.{octets[0]}.{octets[1]}.54",
    )
    with engine.begin() as conn:
        created = request_spec(domain=forward, target=old)
        provisioned(conn, created)
        conn.execute(
            update(DnsRequest).where(col(DnsRequest.id) == created.request_id).values(status="COMPLETED")
        )
        moving = request_spec(domain=forward, operation="update", target=new)
        request_rows.insert_request(conn, moving, datetime.now(UTC))
        conn.execute(
            update(DnsRequest).where(col(DnsRequest.id) == moving.request_id).values(status="NEEDS_ATTENTION")
        )

    with engine.connect() as conn:
        state = read_managed_zone(conn, zone, [ZONE, zone])

    assert state.pending.get(key(f"54.{zone}", "PTR")) == moving.request_id
    assert state.pending.get(key(f"52.{zone}", "PTR")) == moving.request_id
