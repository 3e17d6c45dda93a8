"""An expiry's delete against a record replaced in the instant after the expiry's last look (issue 26):
the delete is accepted, an update replaces the record before the delete's turn, and at its turn the
delete's plan must refuse it ("superseded") instead of deleting the update's record. Real PostgreSQL
and BIND; Temporal is a stub that keeps what accepting started."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.ansible import AnsibleActivities
from activities.database import DatabaseActivities
from activities.expiry import ExpiryActivities
from activities.planning import PlanningActivities
from activities.pools import ThreadPool
from dnsorch.contracts import (
    DnsRequestSpec,
    ExpiryNotice,
    FinishRequest,
    LogStep,
    RecordRow,
)
from dnsorch.dns import change_for
from dnsorch.settings import Settings
from dnsorch.store import request_rows
from tests.fixtures.kept_starts import KeptStarts
from tests.fixtures.specs import fresh_name, request_spec

pytestmark = pytest.mark.integration


async def provisioned(engine: Engine, settings: Settings, spec: DnsRequestSpec) -> None:
    """Apply `spec` to BIND and end its request COMPLETED with its record, as the workflow would."""
    await ActivityEnvironment().run(AnsibleActivities(settings).apply_dns_change, change_for(spec))
    with engine.begin() as conn:
        request_rows.insert_request(conn, spec, datetime.now(UTC))
    now = datetime.now(UTC)
    record = RecordRow(
        spec.request_id,
        spec.record_type,
        spec.domain,
        spec.target,
        spec.ttl,
        None,
        None,
        now,
        operation=spec.operation,
        account_id=spec.account_id,
        zone=spec.zone,
    )
    step = LogStep(spec.request_id, str(uuid.uuid4()), now, "done", status="COMPLETED")
    await ActivityEnvironment().run(DatabaseActivities(engine).finish_request, FinishRequest(step, record))


async def test_an_expirys_delete_does_not_delete_the_record_an_update_replaced_before_its_turn(
    dns_settings: Settings, engine: Engine
) -> None:
    expires_at = datetime.now(UTC) + timedelta(minutes=5)
    expiring = request_spec(domain=fresh_name("race"), target="192.0.2.81", expires_at=expires_at)
    await provisioned(engine, dns_settings, expiring)

    # At expiry nothing stands in the way: the expiry accepts its delete.
    gateway = KeptStarts()
    expiry = ExpiryActivities(engine, dns_settings, gateway, ThreadPool("test-race", 2))  # type: ignore[arg-type]
    notice = ExpiryNotice(expiring.request_id, str(uuid.uuid4()), datetime.now(UTC), expires_at)
    outcome = await ActivityEnvironment().run(expiry.expire, notice)
    assert outcome.kind == "" and outcome.delete_request_id
    [delete] = await gateway.until(1)

    # An update accepted in the instant before that takes the name's turn first and completes.
    update = request_spec(domain=expiring.domain, operation="update", target="192.0.2.82")
    await provisioned(engine, dns_settings, update)

    # The delete's turn: its plan must see that the record is no longer the expiring one.
    plan = await ActivityEnvironment().run(
        PlanningActivities(dns_settings, engine).plan_change, change_for(delete.request)
    )
    assert plan.conflict.startswith("superseded:"), f"the delete would remove the update's record: {plan}"
    assert f"replaced by request {update.request_id}" in plan.conflict
    assert plan.old_values == ["192.0.2.82"], "the plan still says what the primary serves"


async def test_an_expirys_delete_of_the_record_still_expiring_goes_ahead(
    dns_settings: Settings, engine: Engine
) -> None:
    expires_at = datetime.now(UTC) + timedelta(minutes=5)
    expiring = request_spec(domain=fresh_name("kept"), target="192.0.2.83", expires_at=expires_at)
    await provisioned(engine, dns_settings, expiring)
    gateway = KeptStarts()
    expiry = ExpiryActivities(engine, dns_settings, gateway, ThreadPool("test-race", 2))  # type: ignore[arg-type]
    notice = ExpiryNotice(expiring.request_id, str(uuid.uuid4()), datetime.now(UTC), expires_at)
    await ActivityEnvironment().run(expiry.expire, notice)
    [delete] = await gateway.until(1)
    plan = await ActivityEnvironment().run(
        PlanningActivities(dns_settings, engine).plan_change, change_for(delete.request)
    )
    assert (plan.action, plan.conflict, plan.old_values) == ("delete", "", ["192.0.2.83"])
