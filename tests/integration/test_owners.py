"""Ownership follows the tree of names, as PostgreSQL keeps it (dnsorch/store/owners.py): what a
completed create claims, what a delete releases, what an operator's grant keeps."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine

from activities.name_claims import NameClaims, NameOwned
from activities.pools import ThreadPool
from dnsorch.contracts import DnsChange, DnsRequestSpec, RecordRow
from dnsorch.store import name_claims, name_transfers, owners
from dnsorch.store.request_rows import insert_request
from dnsorch.store.served_records import apply_record
from tests.fixtures.specs import request_spec

pytestmark = pytest.mark.integration

# A zone of this module's own: its requests never finish, and in the session's example.test they
# would count as updates and deletes in flight for the approval policy of the e2e tests there.
ZONE = f"owners-{uuid.uuid4().hex[:8]}.test"


def fresh_name(label: str) -> str:
    return f"{label}{uuid.uuid4().hex[:10]}.{ZONE}"


def completed(conn: Connection, spec: DnsRequestSpec) -> None:
    """The request's row and what its completion stores."""
    now = datetime.now(UTC)
    insert_request(conn, spec, now)
    row = RecordRow(
        spec.request_id, spec.record_type, spec.domain, spec.target, spec.ttl, spec.priority, None, now,
        spec.operation, spec.account_id, zone=spec.zone,
    )  # fmt: skip
    apply_record(conn, row)


def change(domain: str, account: str, operation: str = "create", rtype: str = "TXT") -> DnsRequestSpec:
    return request_spec(
        domain=domain, zone=ZONE, account_id=account, operation=operation, record_type=rtype, target="v=1"
    )


def owner(conn: Connection, domain: str) -> str | None:
    found = owners.owner_of(conn, domain, ZONE)
    return found.account_id if found else None


def test_a_first_create_owns_its_subtree_and_underscore_names(engine: Engine) -> None:
    web = fresh_name("web")
    with engine.begin() as conn:
        completed(conn, change(web, "acct-a"))
        for name in (web, f"api.{web}", f"_acme-challenge.{web}", f"sel._domainkey.{web}", f"a.b.{web}"):
            assert owner(conn, name) == "acct-a", name
        completed(conn, change(f"api.{web}", "acct-a"))  # below an owned name: no row of its own
        assert owners.owner_of(conn, f"api.{web}", ZONE) == owners.Owner("acct-a", web)


def test_an_underscore_first_create_owns_the_name_it_attaches_to(engine: Engine) -> None:
    new = fresh_name("new")
    with engine.begin() as conn:
        completed(conn, change(f"_acme-challenge.{new}", "acct-b"))
        assert owner(conn, new) == "acct-b"
        assert owner(conn, f"www.{new}") == "acct-b"


def test_the_owner_row_goes_with_the_last_record_of_its_subtree(engine: Engine) -> None:
    web = fresh_name("rel")
    with engine.begin() as conn:
        completed(conn, change(web, "acct-a"))
        completed(conn, change(f"api.{web}", "acct-a"))
        completed(conn, change(web, "acct-a", "delete"))
        assert owner(conn, f"api.{web}") == "acct-a", "a record is left below the owned name"
        assert owner(conn, web) == "acct-a"
        completed(conn, change(f"api.{web}", "acct-a", "delete"))
        assert owner(conn, web) is None


def test_a_grant_starts_another_accounts_subtree_and_outlives_its_records(engine: Engine) -> None:
    web = fresh_name("grant")
    lab = f"lab.{web}"
    with engine.begin() as conn:
        completed(conn, change(web, "acct-a"))
        owners.grant(conn, lab, "acct-c", datetime.now(UTC))
        assert owner(conn, f"x.{lab}") == "acct-c"
        assert owner(conn, f"_dmarc.{lab}") == "acct-c"
        assert owner(conn, f"api.{web}") == "acct-a"
        completed(conn, change(f"x.{lab}", "acct-c"))
        completed(conn, change(f"x.{lab}", "acct-c", "delete"))
        assert owner(conn, lab) == "acct-c", "a granted subtree stays when its last record goes"


def test_the_apex_owner_does_not_own_the_zone(engine: Engine) -> None:
    zone = f"z{uuid.uuid4().hex[:8]}.test"
    with engine.begin() as conn:
        apex = dataclasses.replace(
            change(zone, "acct-mail", rtype="MX"), zone=zone, target="10 mx.example.test."
        )
        completed(conn, apex)
        assert owners.owner_of(conn, f"_dmarc.{zone}", zone) == owners.Owner("acct-mail", zone)
        assert owners.owner_of(conn, f"web.{zone}", zone) is None


def test_a_transfer_moves_the_names_ptrs_with_it(engine: Engine) -> None:
    web = fresh_name("ptrmove")
    reverse = f"{uuid.uuid4().int % 250}.2.0.192.in-addr.arpa"
    with engine.begin() as conn:
        completed(conn, change(web, "acct-from", rtype="A"))
        ptr = dataclasses.replace(
            change(reverse, "acct-from", rtype="PTR"), zone="2.0.192.in-addr.arpa", target=web, source="ptr"
        )
        completed(conn, ptr)
        assert owners.owner_of(conn, reverse, "2.0.192.in-addr.arpa") == owners.Owner("acct-from", reverse)
    name_transfers.transfer(engine, web, "acct-to", actor="op", note="team split")
    with engine.connect() as conn:
        assert owner(conn, web) == "acct-to"
        assert owners.owner_of(conn, reverse, "2.0.192.in-addr.arpa") == owners.Owner("acct-to", reverse)


async def test_at_the_names_turn_a_rollback_undoes_its_change_even_after_a_transfer(engine: Engine) -> None:
    """Found by the soak: an operator transferred the name while an update ran; its rollback was then
    refused ('belongs to another account') and the request ended REJECTED with its change served.
    A restore puts back what the request's own plan saw; another account's change is still refused."""
    name = fresh_name("turn")
    name_transfers.grant(engine, name, "acct-now", "op")
    pool = ThreadPool("turn-test", 2)
    claims = NameClaims(engine, pool)
    try:

        def change(operation: str) -> DnsChange:
            spec = request_spec(domain=name, zone=ZONE, account_id="acct-before", operation="update")
            with engine.begin() as conn:
                insert_request(conn, spec, datetime.now(UTC))
            return DnsChange(spec.request_id, operation, "A", name, ZONE, ["192.0.2.7"], 300, "acct-before")

        update = change("update")
        with pytest.raises(NameOwned):
            await claims.wait_for_turn(update)
        with engine.begin() as conn:
            name_claims.release_names(conn, update.request_id)  # its REJECTED status does this
        await asyncio.wait_for(claims.wait_for_turn(change("restore")), timeout=30)
    finally:
        pool.shutdown()


def turn_change(engine: Engine, domain: str, account: str) -> DnsChange:
    spec = request_spec(domain=domain, zone=ZONE, account_id=account, operation="create")
    with engine.begin() as conn:
        insert_request(conn, spec, datetime.now(UTC))
    return DnsChange(spec.request_id, "create", "A", domain, ZONE, ["192.0.2.8"], 300, account)


def complete(engine: Engine, change: DnsChange) -> None:
    """What a create's COMPLETED step does in one transaction: the record, the owner row, the turn."""
    with engine.begin() as conn:
        now = datetime.now(UTC)
        row = RecordRow(
            change.request_id, change.record_type, change.domain, change.values[0], change.ttl, None, None,
            now, "create", change.account_id, zone=change.zone,
        )  # fmt: skip
        apply_record(conn, row)
        name_claims.release_names(conn, change.request_id)


async def test_a_create_below_a_name_another_account_is_creating_waits_then_fails(engine: Engine) -> None:
    """Found by the soak (SEED=7 N=200): acct-a's create at `shop` and acct-c's at `cdn.shop` held
    their turns at once, each found its name unowned, and both completed: acct-c held a name under
    acct-a's. The turn now covers the names above and below that another account is changing."""
    shop = fresh_name("nest")
    pool = ThreadPool("turn-test", 2)
    claims = NameClaims(engine, pool)
    try:
        above = turn_change(engine, shop, "acct-a")
        below = turn_change(engine, f"cdn.{shop}", "acct-c")
        await claims.wait_for_turn(above)
        told: list[str] = []
        waiting = asyncio.create_task(claims.wait_for_turn(below, on_wait=told.append))
        await asyncio.sleep(1.0)
        assert not waiting.done(), "the create below went while the one above held its turn"
        assert told == [above.request_id]
        complete(engine, above)
        with pytest.raises(NameOwned):
            await asyncio.wait_for(waiting, timeout=30)
    finally:
        pool.shutdown()


async def test_a_create_above_a_name_another_account_is_creating_waits_for_it(engine: Engine) -> None:
    """The other order: acct-c's `cdn.shop` goes first and keeps its name; acct-a then owns `shop`."""
    shop = fresh_name("nest")
    pool = ThreadPool("turn-test", 2)
    claims = NameClaims(engine, pool)
    try:
        below = turn_change(engine, f"cdn.{shop}", "acct-c")
        above = turn_change(engine, shop, "acct-a")
        await claims.wait_for_turn(below)
        waiting = asyncio.create_task(claims.wait_for_turn(above))
        await asyncio.sleep(1.0)
        assert not waiting.done(), "the create above went while one below it held its turn"
        complete(engine, below)
        await asyncio.wait_for(waiting, timeout=30)
        complete(engine, above)
        with engine.connect() as conn:
            assert owner(conn, f"cdn.{shop}") == "acct-c", "the first creator keeps its name"
            assert owner(conn, f"www.{shop}") == "acct-a"
    finally:
        pool.shutdown()


async def test_one_accounts_names_in_one_subtree_and_siblings_do_not_wait(engine: Engine) -> None:
    shop = fresh_name("nest")
    pool = ThreadPool("turn-test", 2)
    claims = NameClaims(engine, pool)
    try:
        await claims.wait_for_turn(turn_change(engine, shop, "acct-a"))
        await asyncio.wait_for(claims.wait_for_turn(turn_change(engine, f"api.{shop}", "acct-a")), timeout=5)
        sibling = fresh_name("nest")
        await asyncio.wait_for(claims.wait_for_turn(turn_change(engine, sibling, "acct-b")), timeout=5)
    finally:
        pool.shutdown()


async def test_a_request_that_holds_its_turn_is_not_refused_by_a_grant_made_since(engine: Engine) -> None:
    """Found by the soak (SEED=101 N=1000): an operator granted the name away while an update
    applied; the worker was killed, and the apply's retry, asking for the turn it already held, was
    refused ("belongs to another account"). The request ended REJECTED while BIND served its first
    attempt's UPDATE. Ownership is judged when the turn is taken, not again while it is held."""
    name = fresh_name("held")
    pool = ThreadPool("turn-test", 2)
    claims = NameClaims(engine, pool)
    try:
        update = turn_change(engine, name, "acct-before")
        await claims.wait_for_turn(update)  # the workflow's turn: acct-before may change it
        name_transfers.grant(engine, name, "acct-after", "op")
        await asyncio.wait_for(claims.wait_for_turn(update), timeout=10)  # the apply's retry
        fresh = turn_change(engine, name, "acct-before")
        complete(engine, update)
        with pytest.raises(NameOwned):  # a new turn is judged again
            await asyncio.wait_for(claims.wait_for_turn(fresh), timeout=10)
    finally:
        pool.shutdown()
