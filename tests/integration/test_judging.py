"""The approval policy asked again when a scheduled request is due (activities/judging.py, issue 26):
it judges on the zone's facts in PostgreSQL as they are then, not as they were at accept. Real
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from activities.judging import JudgingActivities
from dnsorch.settings import Settings
from tests.fixtures.records import provisioned
from tests.fixtures.specs import request_spec

pytestmark = pytest.mark.integration


def judge(engine: Engine, database_url: str) -> JudgingActivities:
    settings = Settings(
        database_url=database_url,
        dns_zones=["example.test"],
        approval_risks=["ttl_drop"],  # type: ignore[arg-type]
        approval_ttl_floor=300,
        approval_risk_approvers={"ttl_drop": 2},  # type: ignore[arg-type]
    )
    return JudgingActivities(settings, engine)


async def test_a_ttl_drop_that_appeared_after_accept_is_judged_risky_when_due(
    engine: Engine, database_url: str
) -> None:
    update = request_spec(operation="update", ttl=60)
    judging = judge(engine, database_url)
    assert not (await judging.judge_request(update)).required, "nothing served yet: routine"

    with engine.begin() as conn:  # meanwhile another request serves the name with a day's TTL
        provisioned(conn, request_spec(domain=update.domain, ttl=86400))

    judged = await judging.judge_request(update)
    assert judged.required and judged.approvers == 2
    assert judged.reasons == ["TTL drops from 86400 to 60, below the floor of 300"]


async def test_a_dry_run_is_never_held(engine: Engine, database_url: str) -> None:
    update = request_spec(operation="update", ttl=60, dry_run=True)
    with engine.begin() as conn:
        provisioned(conn, request_spec(domain=update.domain, ttl=86400))
    assert not (await judge(engine, database_url).judge_request(update)).required
