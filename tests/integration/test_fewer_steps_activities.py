"""The local activities of patch fewer-steps-to-apply on real PostgreSQL: the first write answers the
zone's freeze too, and one step takes the turn on each name before it plans any (none while another
request holds a name)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, select
from sqlmodel import Session, col
from temporalio.testing import ActivityEnvironment

from activities.database import DatabaseActivities
from activities.name_claims import NameClaims
from activities.pools import ThreadPool
from activities.turns_and_plans import TurnsAndPlansActivities
from dnsorch.contracts import BeginRequest, ChangePlan, DnsChange, DnsRequestSpec, LogStep, TurnsToPlan
from dnsorch.dns import change_for
from dnsorch.store import DnsRequest, FreezeWindow, NameClaim, freezes
from tests.fixtures.specs import fresh_name, request_spec

pytestmark = pytest.mark.integration


@pytest.fixture
def windows(engine: Engine) -> Iterator[list[uuid.UUID]]:
    """The freeze windows a test made: removed afterwards."""
    ids: list[uuid.UUID] = []
    yield ids
    with engine.begin() as conn:
        conn.execute(delete(FreezeWindow).where(col(FreezeWindow.id).in_(ids)))


def step_for(spec: DnsRequestSpec, message: str, status: str | None = None) -> LogStep:
    return LogStep(spec.request_id, str(uuid.uuid4()), datetime.now(UTC), message, status=status)


async def begun(engine: Engine, spec: DnsRequestSpec) -> None:
    begin = BeginRequest(spec, step_for(spec, "started", "IN_PROGRESS"))
    await ActivityEnvironment().run(DatabaseActivities(engine).begin_request, begin)


def held_by(engine: Engine, domain: str) -> str | None:
    with engine.connect() as conn:
        holder = conn.execute(
            select(col(NameClaim.request_id)).where(col(NameClaim.domain) == domain)
        ).scalar()
    return str(holder) if holder else None


async def test_the_first_write_answers_the_window_that_freezes_the_zone_now(
    engine: Engine, windows: list[uuid.UUID]
) -> None:
    zone = f"z{uuid.uuid4().hex[:8]}.test"
    now = datetime.now(UTC)
    windows.append(
        freezes.create(engine, zone, now - timedelta(hours=1), now + timedelta(hours=1), "night", "t").id
    )
    acts, env = DatabaseActivities(engine), ActivityEnvironment()
    frozen, free = request_spec(zone=zone, domain=f"a.{zone}"), request_spec()
    answer = await env.run(
        acts.begin_request_and_freeze, BeginRequest(frozen, step_for(frozen, "go", "IN_PROGRESS"))
    )
    assert answer.created and answer.freeze is not None
    assert answer.freeze.window_id == str(windows[0]) and answer.freeze.reason == "night"
    again = await env.run(
        acts.begin_request_and_freeze, BeginRequest(frozen, step_for(frozen, "go", "IN_PROGRESS"))
    )
    assert not again.created, "a retry adds no row"
    answer = await env.run(
        acts.begin_request_and_freeze, BeginRequest(free, step_for(free, "go", "IN_PROGRESS"))
    )
    assert answer.created and answer.freeze is None
    with Session(engine) as session:
        row = session.get(DnsRequest, uuid.UUID(frozen.request_id))
        assert row is not None and row.status == "IN_PROGRESS"


async def test_every_name_is_held_before_any_plan_and_a_held_name_stops_before_the_plans(
    engine: Engine,
) -> None:
    planned: list[str] = []

    async def plan(change: DnsChange) -> ChangePlan:
        planned.append(change.domain)
        return ChangePlan("add", new_values=change.values, new_ttl=change.ttl)

    claims = NameClaims(engine, ThreadPool("fewer-steps-test", 2))
    acts, env = TurnsAndPlansActivities(claims, plan), ActivityEnvironment()
    shared, own = fresh_name("shared"), fresh_name("own")
    first = request_spec(domain=shared)
    second = request_spec(domain=own, accepted_at=first.accepted_at + timedelta(seconds=1))
    for spec in (first, second):
        await begun(engine, spec)
    mine = change_for(first)
    answer = await env.run(acts.take_turns_and_plan, TurnsToPlan([mine]))
    assert answer.first == "" and [p.action for p in answer.plans] == ["add"] and planned == [shared]

    # The second request's own name is free, the shared one is the first's: it holds its own and waits.
    theirs = [change_for(second), change_for(request_spec(**{**vars(second), "domain": shared}))]
    answer = await env.run(acts.take_turns_and_plan, TurnsToPlan(theirs))
    assert (answer.first, answer.waits_at, answer.plans) == (first.request_id, 1, [])
    assert planned == [shared], "no plan while a name is another request's"
    assert held_by(engine, own) == second.request_id

    # The first request's next status lets the name go: asked again, the second plans both.
    await ActivityEnvironment().run(
        DatabaseActivities(engine).record_step, step_for(first, "done", "COMPLETED")
    )
    answer = await env.run(acts.take_turns_and_plan, TurnsToPlan(theirs))
    assert answer.first == "" and len(answer.plans) == 2 and planned == [shared, own, shared]
    assert held_by(engine, shared) == held_by(engine, own) == second.request_id
