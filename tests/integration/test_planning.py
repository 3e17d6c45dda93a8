"""The plan against a real BIND: old → new values and TTL as the server serves them, and an MX whose
target is a CNAME on the server is a conflict (RFC 2181 §10.3)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.ansible import AnsibleActivities
from activities.planning import PlanningActivities
from dnsorch.contracts import DnsChange
from dnsorch.settings import Settings
from tests.fixtures.bind import TEST_ZONE

pytestmark = pytest.mark.integration


def change(operation: str, record_type: str, label: str, values: list[str], ttl: int = 300) -> DnsChange:
    return DnsChange(
        str(uuid.uuid4()), operation, record_type, f"{label}.{TEST_ZONE}", TEST_ZONE, values, ttl
    )


async def test_the_plan_reads_what_the_server_serves(dns_settings: Settings, engine: Engine) -> None:
    apply, plan = (
        AnsibleActivities(dns_settings).apply_dns_change,
        PlanningActivities(dns_settings, engine).plan_change,
    )
    label = f"p-{uuid.uuid4().hex[:6]}"
    fresh = await ActivityEnvironment().run(plan, change("create", "A", label, ["192.0.2.61"]))
    assert (fresh.action, fresh.old_values) == ("add", [])
    await ActivityEnvironment().run(apply, change("create", "A", label, ["192.0.2.61"]))

    update = await ActivityEnvironment().run(plan, change("update", "A", label, ["192.0.2.62"], ttl=900))
    assert (update.action, update.old_values, update.new_values) == (
        "replace",
        ["192.0.2.61"],
        ["192.0.2.62"],
    )
    assert (update.old_ttl, update.new_ttl) == (300, 900)


async def test_an_mx_at_a_cname_on_the_server_is_a_conflict_in_the_plan(
    dns_settings: Settings, engine: Engine
) -> None:
    apply, plan = (
        AnsibleActivities(dns_settings).apply_dns_change,
        PlanningActivities(dns_settings, engine).plan_change,
    )
    alias = f"alias-{uuid.uuid4().hex[:6]}"
    await ActivityEnvironment().run(apply, change("create", "CNAME", alias, [f"www.{TEST_ZONE}."]))
    mx = change("create", "MX", f"mx-{uuid.uuid4().hex[:6]}", [f"10 {alias}.{TEST_ZONE}."])
    planned = await ActivityEnvironment().run(plan, mx)
    assert planned.conflict.startswith(f"the MX target {alias}.{TEST_ZONE}. is a CNAME on the DNS server")


async def test_the_plan_names_targets_in_a_managed_zone_that_do_not_resolve(
    dns_settings: Settings, engine: Engine
) -> None:
    apply, plan = (
        AnsibleActivities(dns_settings).apply_dns_change,
        PlanningActivities(dns_settings, engine).plan_change,
    )
    host, txt_only, nowhere = (f"{kind}-{uuid.uuid4().hex[:6]}" for kind in ("host", "txt", "nowhere"))
    await ActivityEnvironment().run(apply, change("create", "A", host, ["192.0.2.63"]))
    await ActivityEnvironment().run(apply, change("create", "TXT", txt_only, ['"no address here"']))

    alias = await ActivityEnvironment().run(
        plan, change("create", "CNAME", f"c-{host}", [f"{nowhere}.{TEST_ZONE}."])
    )
    assert alias.dangling == [f"{nowhere}.{TEST_ZONE}."]
    assert alias.describe("CNAME c").endswith(f"; the target {nowhere}.{TEST_ZONE}. does not resolve")

    mail = await ActivityEnvironment().run(
        plan, change("create", "MX", f"m-{host}", [f"10 {txt_only}.{TEST_ZONE}."])
    )
    assert mail.dangling == [f"{txt_only}.{TEST_ZONE}."], "an MX target needs an address, not just any data"

    for rtype, value in (
        ("MX", f"10 {host}.{TEST_ZONE}."),
        ("CNAME", f"{host}.{TEST_ZONE}."),
        ("CNAME", "www.elsewhere.invalid."),
    ):
        planned = await ActivityEnvironment().run(
            plan, change("create", rtype, f"ok-{uuid.uuid4().hex[:6]}", [value])
        )
        assert planned.dangling == [], (
            f"{rtype} {value}: a host with an address, or outside the managed zones"
        )


async def test_a_cname_whose_target_leads_back_to_its_name_is_a_conflict_in_the_plan(
    dns_settings: Settings, engine: Engine
) -> None:
    """Found by a seeded soak: web → alias was applied while alias → web was served, and BIND then
    answered SERVFAIL for both names (a loop no resolver can follow)."""
    apply, plan = (
        AnsibleActivities(dns_settings).apply_dns_change,
        PlanningActivities(dns_settings, engine).plan_change,
    )
    first, second, third = (f"{n}-{uuid.uuid4().hex[:6]}" for n in ("loop-a", "loop-b", "loop-c"))
    await ActivityEnvironment().run(apply, change("create", "CNAME", first, [f"{second}.{TEST_ZONE}."]))
    await ActivityEnvironment().run(apply, change("create", "CNAME", second, [f"{third}.{TEST_ZONE}."]))
    closing = change("create", "CNAME", third, [f"{first}.{TEST_ZONE}."])
    planned = await ActivityEnvironment().run(plan, closing)
    assert planned.conflict.startswith(
        f"the CNAME target {first}.{TEST_ZONE}. leads back to {third}.{TEST_ZONE}"
    )
    open_end = change("create", "CNAME", third, [f"www.{TEST_ZONE}."])
    assert not (await ActivityEnvironment().run(plan, open_end)).conflict
    itself = change("update", "CNAME", first, [f"{first}.{TEST_ZONE}."])
    assert "leads back" in (await ActivityEnvironment().run(plan, itself)).conflict
