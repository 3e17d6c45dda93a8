"""A plan that reads PostgreSQL (what dnsorch keeps, whether an expiry is superseded) waits through a
short outage inside its attempt: a seeded soak stopped PostgreSQL for 5 s while a scheduled request
made its preview plan, all three quick attempts failed, and the workflow failed with its request left
SCHEDULED."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from activities import planning
from activities.planning import PlanningActivities
from dnsorch.contracts import EXPIRY_SOURCE, DnsChange
from dnsorch.settings import Settings
from tests.fixtures.servers import free_port


class FlakyEngine:
    """Refuses the first `failures` connections, as a stopped PostgreSQL does."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.tries = 0

    @contextlib.contextmanager
    def connect(self) -> Iterator[object]:
        self.tries += 1
        if self.tries <= self.failures:
            raise OperationalError("connect", {}, Exception("connection refused"))
        yield object()


def expiry_delete() -> DnsChange:
    return DnsChange(
        request_id=str(uuid.uuid4()),
        operation="delete",
        record_type="TXT",
        domain="old.example.test",
        zone="example.test",
        values=["v"],
        ttl=300,
        source=EXPIRY_SOURCE,
    )


@pytest.fixture
def superseded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planning.expiries, "superseded_delete", lambda conn, _id: "renewed since")
    monkeypatch.setattr(planning, "DB_PAUSE", 0.01)


async def test_a_plan_waits_for_postgresql_through_a_short_outage(superseded: Any) -> None:
    engine = FlakyEngine(failures=3)
    settings = Settings(dns_server="127.0.0.1", dns_port=free_port(), dns_zones=["example.test"])
    plan = await PlanningActivities(settings, engine).plan_change(expiry_delete())  # type: ignore[arg-type]
    assert plan.conflict == "superseded: renewed since"
    assert engine.tries == 4


async def test_a_plan_still_fails_when_postgresql_stays_down(
    superseded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planning, "DB_WAIT", 0.05)
    settings = Settings(dns_server="127.0.0.1", dns_port=free_port(), dns_zones=["example.test"])
    with pytest.raises(OperationalError):
        await PlanningActivities(settings, FlakyEngine(failures=10**6)).plan_change(expiry_delete())  # type: ignore[arg-type]
