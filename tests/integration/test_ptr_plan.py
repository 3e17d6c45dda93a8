"""A PTR dnsorch does not keep is never overwritten or deleted by dnsorch (zone integrity, #22 item 9).

Against a real BIND and PostgreSQL: the forward request's plan refuses an address whose PTR serves
another name by hand, so nothing is applied; a PTR request's own plan (run at its turn, after the
forward change) refuses the same, and leaves a PTR that names another host alone on a delete. A PTR
dnsorch keeps is the forward owner's to change (the name's turn judges ownership)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.planning import PlanningActivities
from dnsorch.contracts import ChangePlan, DnsChange
from dnsorch.dns import change_for, ptr_requests, reverse_zone_of
from tests.fixtures.bind import REVERSE_ZONE, TEST_ZONE, BindInfo, bind_settings
from tests.fixtures.by_hand import by_hand
from tests.fixtures.records import provisioned
from tests.fixtures.specs import request_spec

pytestmark = pytest.mark.integration


_UNUSED = iter(random.sample(range(100, 255), 155))
"""Each test's own address: a test may leave a PTR row in dns_records (this worker's database is
shared), and a later test that drew the same address found that PTR managed."""


@pytest.fixture
def address(bind_server: BindInfo) -> Iterator[str]:
    """An address in the reverse zone whose PTR name serves nothing, cleared again afterwards."""
    address = f"192.0.2.{next(_UNUSED)}"
    hand_ptr(bind_server, address, [])
    yield address
    hand_ptr(bind_server, address, [])


@pytest.fixture
def planning(bind_server: BindInfo, engine: Engine, tmp_path: Path) -> PlanningActivities:
    settings = bind_settings(bind_server, tmp_path / "state", dns_zones=[TEST_ZONE, REVERSE_ZONE])
    return PlanningActivities(settings, engine)


def hand_ptr(bind_server: BindInfo, address: str, values: list[str]) -> None:
    by_hand(bind_server, bind_server.key_file, REVERSE_ZONE, ptr_name(address), "PTR", values)


def ptr_name(address: str) -> str:
    found = reverse_zone_of(address, [REVERSE_ZONE])
    assert found is not None
    return found[0]


def forward(operation: str, domain: str, address: str) -> DnsChange:
    return DnsChange(str(uuid.uuid4()), operation, "A", domain, TEST_ZONE, [address], 300, "acct-a", "api")


def ptr(operation: str, address: str, domain: str) -> DnsChange:
    """What a forward request's PTR request applies: `restore` names the domain, `delete` removes it."""
    (spec,) = [
        spec
        for spec in ptr_requests(
            request_spec(
                domain=domain, target=address, operation=operation if operation == "delete" else "create"
            ),
            [address] if operation == "delete" else [],
            [REVERSE_ZONE],
            1,
        )
        if spec.operation == operation
    ]
    return change_for(spec)


async def plan(planning: PlanningActivities, change: DnsChange) -> ChangePlan:
    return await ActivityEnvironment().run(planning.plan_change, change)


def domain() -> str:
    return f"ptr-{uuid.uuid4().hex[:8]}.{TEST_ZONE}"


async def test_a_forward_change_whose_address_has_a_ptr_made_by_hand_is_refused_before_anything_is_applied(
    planning: PlanningActivities, bind_server: BindInfo, address: str
) -> None:
    by_hand(
        bind_server, bind_server.key_file, REVERSE_ZONE, ptr_name(address), "PTR", ["mail.elsewhere.test."]
    )
    for operation in ("create", "update"):
        refused = await plan(planning, forward(operation, domain(), address))
        assert refused.conflict == (
            f"unmanaged_ptr: PTR {ptr_name(address)} serves mail.elsewhere.test., which dnsorch does not "
            "keep: dnsorch will not overwrite it"
        )


async def test_a_forward_change_whose_ptr_already_names_it_or_is_kept_by_dnsorch_is_planned(
    planning: PlanningActivities, bind_server: BindInfo, engine: Engine, address: str
) -> None:
    name = domain()
    hand_ptr(bind_server, address, [f"{name}."])
    assert (await plan(planning, forward("create", name, address))).conflict == ""

    other = domain()  # dnsorch keeps the PTR for another record: the name's turn judges its owner
    hand_ptr(bind_server, address, [f"{other}."])
    with engine.begin() as conn:
        provisioned(
            conn,
            request_spec(
                source="ptr",
                record_type="PTR",
                domain=ptr_name(address),
                zone=REVERSE_ZONE,
                target=other,
                operation="restore",
            ),
        )
    planned = await plan(planning, forward("create", name, address))
    assert (planned.conflict, planned.action) == ("", "add")


async def test_a_ptr_request_never_overwrites_nor_deletes_a_ptr_dnsorch_does_not_keep(
    planning: PlanningActivities, bind_server: BindInfo, address: str
) -> None:
    name = domain()
    by_hand(
        bind_server, bind_server.key_file, REVERSE_ZONE, ptr_name(address), "PTR", ["mail.elsewhere.test."]
    )
    refused = await plan(planning, ptr("restore", address, name))
    assert refused.conflict.startswith(f"unmanaged_ptr: PTR {ptr_name(address)} serves mail.elsewhere.test.")

    gone = await plan(planning, ptr("delete", address, name))  # the old address's PTR names someone else
    assert gone.conflict == (
        f"unmanaged_ptr: PTR {ptr_name(address)} serves mail.elsewhere.test., not {name}: "
        "dnsorch leaves it alone"
    )

    hand_ptr(bind_server, address, [f"{name}."])
    assert (await plan(planning, ptr("delete", address, name))).action == "delete"
    assert (await plan(planning, ptr("restore", address, name))).action == "unchanged"
