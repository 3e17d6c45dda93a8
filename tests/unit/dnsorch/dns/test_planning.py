"""Plan before apply: what a change would do to what the server serves, and when it must not run."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from temporalio.testing import WorkflowEnvironment

from dnsorch.contracts import ChangePlan, DnsChange
from dnsorch.dns import plan_for
from tests.fixtures.specs import request_spec
from tests.fixtures.workflow_stubs import FakeStore, start, worker


def change(operation: str = "create", values: tuple[str, ...] = ("192.0.2.2",), ttl: int = 600) -> DnsChange:
    return DnsChange(str(uuid.uuid4()), operation, "A", "web.example.test", "example.test", list(values), ttl)


def test_a_plan_says_what_changes_from_what_to_what() -> None:
    added = plan_for(change(), [], None, [])
    assert (added.action, added.old_values, added.new_values, added.new_ttl) == (
        "add",
        [],
        ["192.0.2.2"],
        600,
    )
    assert added.describe("A web") == "add A web: nothing → 192.0.2.2, TTL 600"
    replaced = plan_for(change("update"), ["192.0.2.1"], 300, [])
    assert (replaced.action, replaced.old_values, replaced.old_ttl) == ("replace", ["192.0.2.1"], 300)
    assert replaced.describe("A web") == "replace A web: 192.0.2.1 → 192.0.2.2, TTL 300 → 600"
    deleted = plan_for(change("delete", ()), ["192.0.2.1"], 300, [])
    assert deleted.action == "delete" and deleted.describe("A web") == "delete A web: 192.0.2.1 → nothing"
    assert plan_for(change("delete", ()), [], None, []).action == "none"
    assert plan_for(change("update"), ["192.0.2.2"], 600, []).action == "unchanged"


@pytest.mark.parametrize(
    ("operation", "served", "cname", "reason"),
    [
        (
            "create",
            ["192.0.2.9"],
            [],
            "unmanaged_name: A web.example.test exists on the DNS server (192.0.2.9)",
        ),
        (
            "create",
            [],
            ["elsewhere.example.test."],
            "unmanaged_name: web.example.test is a CNAME on the DNS server",
        ),
        ("update", [], [], "A web.example.test does not exist on the DNS server: nothing to update"),
    ],
)
def test_data_dnsorch_does_not_manage_in_the_way_is_a_conflict(
    operation: str, served: list[str], cname: list[str], reason: str
) -> None:
    plan = plan_for(change(operation), served, 300 if served else None, cname)
    assert plan.conflict.startswith(reason), plan.conflict
    assert plan.action == ""


def test_an_mx_target_that_is_a_cname_on_the_server_is_a_conflict() -> None:
    mx = DnsChange(
        str(uuid.uuid4()), "create", "MX", "example.test", "example.test", ["10 alias.example.test."], 300
    )
    plan = plan_for(mx, [], None, [], aliased=["alias.example.test."])
    assert plan.conflict.startswith("the MX target alias.example.test. is a CNAME on the DNS server")


async def test_the_plan_is_logged_and_queryable_before_the_apply(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(plan=ChangePlan("replace", ["192.0.2.1"], ["192.0.2.10"], 300, 300))
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, request_spec())).result()
    assert final.status == "COMPLETED" and store.apply_calls == 1
    assert final.plan is not None and final.plan["old_values"] == ["192.0.2.1"]
    logged = next(s for s in store.steps.values() if s.plan is not None)
    assert logged.message.startswith("plan: replace A ") and "192.0.2.1 → 192.0.2.10" in logged.message
    assert logged.at < next(s for s in store.steps.values() if s.status == "COMPLETED").at


async def test_a_conflict_in_the_plan_rejects_the_request_before_anything_is_applied(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(plan=ChangePlan("", conflict="unmanaged_name: A x exists on the DNS server"))
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, request_spec())).result()
    assert final.status == "REJECTED" and store.apply_calls == 0
    assert store.statuses() == ["IN_PROGRESS", "REJECTED"]
    assert "unmanaged_name" in next(s for s in store.steps.values() if s.status == "REJECTED").message


async def test_a_dry_run_ends_after_its_plan_and_changes_nothing(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore()
    spec = replace(request_spec(), dry_run=True)
    async with worker(time_skipping_env, store):
        final = await (await start(time_skipping_env, spec)).result()
    assert final.status == "COMPLETED" and final.plan is not None and final.plan["action"] == "add"
    assert store.apply_calls == 0 and store.records == {}, "a dry run must not touch DNS or the records"
    done = next(s for s in store.steps.values() if s.status == "COMPLETED")
    assert done.message.endswith("dry run: the plan above was not applied; DNS is unchanged")
