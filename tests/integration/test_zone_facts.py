"""What the approval policy is told about a request's zone at accept (its `zone_share` and `ttl_drop`
risks judge it): read from PostgreSQL as the records and requests stand. Each test has a zone of its
own, with an underscore in its name, beside a look-alike that an unescaped LIKE would mistake for it."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from dnsorch.contracts import DnsRequestSpec, RecordRow, ZoneFacts
from dnsorch.store import read_zone_facts, request_rows
from dnsorch.store.served_records import apply_record
from tests.fixtures.specs import request_spec

pytestmark = pytest.mark.integration


def zones() -> tuple[str, str]:
    """A fresh zone and its look-alike (`_` read as a wildcard would match it)."""
    tag = uuid.uuid4().hex[:8]
    return f"z_{tag}.test", f"zx{tag}.test"


def spec_in(zone: str, domain: str, **fields: object) -> DnsRequestSpec:
    return request_spec(zone=zone, domain=domain, **fields)


def served(engine: Engine, spec: DnsRequestSpec) -> None:
    """The request and the record it made, as a completed request leaves them."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        request_rows.insert_request(conn, spec, now)
        apply_record(conn, RecordRow.of(spec, now))
        conn.execute(
            text("UPDATE dns_requests SET status = 'COMPLETED' WHERE id = :id"), {"id": spec.request_id}
        )


def asked(engine: Engine, spec: DnsRequestSpec) -> ZoneFacts:
    with engine.connect() as conn:
        return read_zone_facts(conn, spec)


def test_the_zone_counts_its_current_record_sets_from_the_apex_down(engine: Engine) -> None:
    zone, look_alike = zones()
    for domain, record_type, target in [
        (zone, "A", "192.0.2.1"),
        (f"www.{zone}", "A", "192.0.2.2"),
        (f"www.{zone}", "TXT", "hello"),
        (f"a.b.{zone}", "A", "192.0.2.3"),
        (f"www.{look_alike}", "A", "192.0.2.4"),
        (look_alike, "A", "192.0.2.5"),
    ]:
        served(
            engine,
            spec_in(zone if zone in domain else look_alike, domain, record_type=record_type, target=target),
        )
    retired = spec_in(zone, f"old.{zone}")
    served(engine, retired)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE dns_records SET deleted_at = now() WHERE domain = :d"), {"d": retired.domain}
        )

    facts = asked(engine, spec_in(zone, f"new.{zone}"))
    assert facts.zone_record_sets == 4
    assert asked(engine, spec_in(look_alike, f"new.{look_alike}")).zone_record_sets == 2


def test_the_current_ttl_is_the_served_record_sets_own(engine: Engine) -> None:
    zone, _ = zones()
    served(engine, spec_in(zone, f"www.{zone}", ttl=900))
    served(engine, spec_in(zone, f"www.{zone}", record_type="TXT", target="t", ttl=60))

    assert asked(engine, spec_in(zone, f"www.{zone}", operation="update", ttl=30)).current_ttl == 900
    assert asked(engine, spec_in(zone, f"other.{zone}", operation="update")).current_ttl is None


def test_changes_in_flight_are_the_zones_unfinished_updates_and_deletes_but_the_asking_one(
    engine: Engine,
) -> None:
    zone, look_alike = zones()
    now = datetime.now(UTC)
    pending = [
        spec_in(zone, f"a.{zone}", operation="update"),
        spec_in(zone, zone, operation="delete"),
        spec_in(zone, f"b.{zone}", operation="create"),  # not a change to what is served
        spec_in(look_alike, f"a.{look_alike}", operation="update"),  # another zone
    ]
    finished = spec_in(zone, f"c.{zone}", operation="update")
    asking = spec_in(zone, f"d.{zone}", operation="update")
    with engine.begin() as conn:
        for spec in [*pending, finished, asking]:
            request_rows.insert_request(conn, spec, now)
        conn.execute(
            text("UPDATE dns_requests SET status = 'FAILED' WHERE id = :id"), {"id": finished.request_id}
        )

    assert asked(engine, asking).zone_changes_in_flight == 2
    assert (
        asked(engine, dataclasses.replace(asking, request_id=str(uuid.uuid4()))).zone_changes_in_flight == 3
    )
