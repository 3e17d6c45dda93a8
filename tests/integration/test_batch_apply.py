"""Batched apply against a real BIND9: a burst of changes for one zone is applied by one playbook run,
and a change the server refuses is isolated from its neighbours, which are all served."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.ansible import AnsibleActivities
from activities.dns_check import query_rrset
from dnsorch.contracts import ApplyResult, DnsChange
from tests.fixtures.bind import TEST_ZONE, BindInfo, bind_settings

pytestmark = pytest.mark.integration


def a_change(label: str, address: str, operation: str = "create") -> DnsChange:
    return DnsChange(
        request_id=str(uuid.uuid4()),
        operation=operation,
        record_type="A",
        domain=f"{label}.{TEST_ZONE}",
        zone=TEST_ZONE,
        values=[] if operation == "delete" else [address],
        ttl=300,
    )


async def apply_all(activities: AnsibleActivities, changes: list[DnsChange]) -> list[object]:
    async def one(change: DnsChange) -> ApplyResult:
        return await ActivityEnvironment().run(activities.apply_dns_change, change)

    return await asyncio.gather(*(one(c) for c in changes), return_exceptions=True)


async def test_a_burst_is_one_playbook_run_and_a_refused_change_fails_alone(
    bind_server: BindInfo, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    settings = bind_settings(bind_server, tmp_path / "state", batch_max_changes=100, batch_max_wait_ms=500)
    activities = AnsibleActivities(settings, keep_run_dirs=True)
    good = [a_change(f"burst{i}-{tag}", f"192.0.2.{i + 1}") for i in range(30)]
    # BIND's check-names refuses `_` in an A owner: the whole UPDATE holding it would be refused.
    culprit = a_change(f"_bad-{tag}", "192.0.2.250")
    changes = [*good[:15], culprit, *good[15:]]

    results = await apply_all(activities, changes)

    by_id = dict(zip((c.request_id for c in changes), results, strict=True))
    refused = by_id[culprit.request_id]
    assert isinstance(refused, ApplicationError) and refused.type == "DnsChangeRejected"
    assert refused.non_retryable and "REFUSED" in refused.message
    for change in good:
        assert by_id[change.request_id] == ApplyResult(served=change.values, changed=True)
        assert await query_rrset(bind_server.host, bind_server.port, change.domain, "A") == change.values
    runs = list((settings.state_dir / "ansible-runs").iterdir())
    assert len(runs) == 1, f"{len(runs)} playbook runs for one burst"


async def test_an_update_then_a_delete_of_one_name_ends_as_the_last_says(
    bind_server: BindInfo, tmp_path: Path
) -> None:
    """In arrival order (the name's lock lets them apply one after the other, each in its batch)."""
    name = f"order-{uuid.uuid4().hex[:6]}"
    settings = bind_settings(bind_server, tmp_path / "state")
    activities = AnsibleActivities(settings)
    for change in (
        a_change(name, "192.0.2.7"),
        a_change(name, "192.0.2.8", "update"),
        a_change(name, "", "delete"),
    ):
        await ActivityEnvironment().run(activities.apply_dns_change, change)
    assert await query_rrset(bind_server.host, bind_server.port, f"{name}.{TEST_ZONE}", "A") == []


async def test_a_batch_larger_than_a_message_is_sent_as_several_updates(
    bind_server: BindInfo, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    settings = bind_settings(
        bind_server, tmp_path / "state", batch_max_message_changes=7, batch_max_wait_ms=500
    )
    activities = AnsibleActivities(settings)
    changes = [a_change(f"msg{i}-{tag}", f"198.51.100.{i + 1}") for i in range(20)]
    results = await apply_all(activities, changes)
    assert all(isinstance(r, ApplyResult) for r in results), results
    for change in changes:
        assert await query_rrset(bind_server.host, bind_server.port, change.domain, "A") == change.values
