"""DnsProvisioningWorkflow's paths, with stub activities registered under the real names."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.name_lock import NameLockActivities
from dnsorch.contracts import (
    ApplyPolicy,
    ApplyResult,
    BeginRequest,
    ChangePlan,
    DnsChange,
    DnsRequestSpec,
    FinishRequest,
    LogStep,
    NameServer,
    ProvisioningInput,
    RecordRow,
    ServedCheck,
    ServerAnswer,
    StatusChange,
    WorkflowState,
)
from dnsorch.search_attributes import initial_attributes
from workflows.name_lock import DnsNameLockWorkflow
from workflows.provisioning import DnsProvisioningWorkflow

FAST_POLICY = ApplyPolicy(
    max_attempts=3,
    initial_retry_seconds=0.1,
    retry_backoff=1,
    max_retry_seconds=1,
    timeout_seconds=60,
    heartbeat_seconds=5,
)


@dataclass
class FakeStore:
    """Stands in for PostgreSQL and BIND: records what the activities were asked to do."""

    apply_failures: list[ApplicationError] = field(default_factory=list)
    block_apply: bool = False
    stop_delay: float = 0.0
    """Seconds a cancelled apply takes to stop, as a playbook being killed does."""
    applied_despite_cancel: bool = False
    plan: ChangePlan | None = None
    """What the plan says; None: an add of the request's values."""
    """A cancelled apply completes all the same, as one whose batch was already running does."""
    apply_calls: int = 0
    apply_cancelled: bool = False
    apply_started_at: list[float] = field(default_factory=list)
    apply_stopped_at: float | None = None
    steps: dict[str, LogStep] = field(default_factory=dict)
    step_written_at: dict[str, float] = field(default_factory=dict)
    records: dict[str, RecordRow] = field(default_factory=dict)
    rows: set[str] = field(default_factory=set)
    servers: list[NameServer] = field(
        default_factory=lambda: [
            NameServer("ns1.example.test", "127.0.0.1", 53),
            NameServer("ns2.example.test", "127.0.0.2", 53),
        ]
    )
    behind: set[str] = field(default_factory=set)
    """Addresses of the servers that do not serve any change (a secondary that takes no transfer)."""
    behind_serves: list[str] = field(default_factory=lambda: ["192.0.2.99"])
    """What those servers serve instead: a rollback to it is served everywhere."""
    applied: list[DnsChange] = field(default_factory=list)
    fail_types: dict[str, ApplicationError] = field(default_factory=dict)
    superseded_by: str = ""
    """What dnsorch records now, when a drift request's values are no longer the recorded ones."""
    """Record types whose every apply fails for good with this error."""
    checks: int = 0

    def activities(self) -> list[object]:
        @activity.defn(name="ensure_request_row")
        async def ensure_request_row(spec: DnsRequestSpec) -> bool:
            created = spec.request_id not in self.rows
            self.rows.add(spec.request_id)
            return created

        @activity.defn(name="record_step")
        async def record_step(step: LogStep) -> bool:
            if step.entry_id in self.steps:
                return False
            self.steps[step.entry_id] = step
            self.step_written_at[step.entry_id] = time.monotonic()
            return True

        @activity.defn(name="begin_request")
        async def begin_request(begin: BeginRequest) -> bool:
            created = await ensure_request_row(begin.request)
            await record_step(begin.step)
            return created

        @activity.defn(name="finish_request")
        async def finish_request(finish: FinishRequest) -> None:
            if finish.record is not None:
                await store_record(finish.record)
            await record_step(finish.step)

        @activity.defn(name="store_record")
        async def store_record(row: RecordRow) -> bool:
            created = row.request_id not in self.records
            self.records.setdefault(row.request_id, row)
            return created

        @activity.defn(name="plan_change")
        async def plan_change(change: DnsChange) -> ChangePlan:
            return self.plan or ChangePlan("add", new_values=change.values, new_ttl=change.ttl)

        @activity.defn(name="superseded")
        async def superseded(spec: DnsRequestSpec) -> str:
            return f"superseded: dnsorch now records {self.superseded_by}" if self.superseded_by else ""

        @activity.defn(name="authoritative_servers")
        async def authoritative_servers(zone: str) -> list[NameServer]:
            return list(self.servers)

        @activity.defn(name="check_served")
        async def check_served(check: ServedCheck) -> list[ServerAnswer]:
            self.checks += 1
            return [
                ServerAnswer(server, serves=False, served=self.behind_serves)
                if server.address in self.behind and self.behind_serves != check.change.values
                else ServerAnswer(server, serves=True, served=check.change.values, seconds=0.25)
                for server in check.servers
            ]

        @activity.defn(name="apply_dns_change")
        async def apply_dns_change(change: DnsChange) -> ApplyResult:
            self.apply_calls += 1
            self.applied.append(change)
            if change.record_type in self.fail_types:
                raise self.fail_types[change.record_type]
            self.apply_started_at.append(time.monotonic())
            if self.block_apply:
                try:
                    while self.block_apply:
                        activity.heartbeat()
                        await asyncio.sleep(0.2)
                except asyncio.CancelledError:
                    self.apply_cancelled = True
                    await asyncio.sleep(self.stop_delay)
                    self.apply_stopped_at = time.monotonic()
                    if self.applied_despite_cancel:
                        return ApplyResult(served=change.values, changed=True)
                    raise
            if self.apply_failures:
                raise self.apply_failures.pop(0)
            return ApplyResult(served=change.values, changed=True)

        return [
            ensure_request_row,
            record_step,
            store_record,
            begin_request,
            finish_request,
            plan_change,
            apply_dns_change,
            authoritative_servers,
            check_served,
            superseded,
        ]

    def statuses(self) -> list[str]:
        ordered = sorted(self.steps.values(), key=lambda s: s.at)
        return [s.status for s in ordered if s.status]


def request_spec(domain: str | None = None) -> DnsRequestSpec:
    """A fresh name by default: each name has its own lock workflow, which outlives a test's worker."""
    return DnsRequestSpec(
        request_id=str(uuid.uuid4()),
        account_id="acct-42",
        source="api",
        record_type="A",
        domain=domain or f"w{uuid.uuid4().hex[:8]}.example.test",
        zone="example.test",
        target="192.0.2.10",
        ttl=300,
    )


async def start(
    env: WorkflowEnvironment,
    spec: DnsRequestSpec,
    *,
    approval: bool = False,
    policy: ApplyPolicy = FAST_POLICY,
    approval_timeout: int = 0,
    attention: str = "",
    reverse_zones: list[str] | None = None,
) -> WorkflowHandle[DnsProvisioningWorkflow, WorkflowState]:
    return await env.client.start_workflow(
        DnsProvisioningWorkflow.run,
        ProvisioningInput(
            request=spec,
            policy=policy,
            approval_required=approval,
            approval_reasons=["a delete (risky)"] if approval else [],
            approval_timeout_seconds=approval_timeout,
            attention_reason=attention,
            reverse_zones=reverse_zones or [],
        ),
        id=spec.workflow_id,
        task_queue="test-provisioning",
        search_attributes=initial_attributes(
            domain=spec.domain,
            zone=spec.zone,
            record_type="A",
            operation="create",
            status="PENDING",
            account=spec.account_id,
            source="api",
        ),
    )


def worker(env: WorkflowEnvironment, store: FakeStore) -> Worker:
    """The real name-lock workflow and activity beside the stubs: they only talk to Temporal."""
    return Worker(
        env.client,
        task_queue="test-provisioning",
        workflows=[DnsProvisioningWorkflow, DnsNameLockWorkflow],
        activities=[*store.activities(), NameLockActivities(env.client).request_name_lock],
    )


async def test_transient_failures_are_retried_until_the_record_is_served(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(apply_failures=[ApplicationError("SERVFAIL", type="DnsChangeFailed")] * 2)
    spec = request_spec()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec)
        state = await handle.result()
    assert state.status == "COMPLETED"
    assert store.apply_calls == 3
    assert store.statuses() == ["IN_PROGRESS", "COMPLETED"]
    assert list(store.records) == [spec.request_id]
    assert store.records[spec.request_id].target == "192.0.2.10"


async def test_manual_terminal_status_cancels_the_step_and_ends_the_request(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(block_apply=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        while store.apply_calls == 0:
            await asyncio.sleep(0.05)
        await handle.signal(
            DnsProvisioningWorkflow.update_status,
            StatusChange(status="FAILED", message="host retired", actor="alice"),
        )
        state = await handle.result()
    assert state.status == "FAILED"
    assert store.apply_cancelled
    assert store.statuses() == ["IN_PROGRESS", "FAILED"]
    manual = [s for s in store.steps.values() if s.actor == "alice"]
    assert len(manual) == 1 and "host retired" in manual[0].message
    assert not store.records


async def test_manual_non_terminal_status_is_a_note_and_provisioning_continues(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    store = FakeStore(block_apply=True)
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        while store.apply_calls == 0:
            await asyncio.sleep(0.05)
        await handle.signal(
            DnsProvisioningWorkflow.update_status, StatusChange(status="PENDING", message="hold")
        )
        while not any("hold" in s.message for s in store.steps.values()):
            await asyncio.sleep(0.05)
        queried = await handle.query(DnsProvisioningWorkflow.state)
        assert queried.status == "IN_PROGRESS"
        store.block_apply = False
        state = await handle.result()
    assert state.status == "COMPLETED"
    assert store.statuses() == ["IN_PROGRESS", "COMPLETED"]
    note = next(s for s in store.steps.values() if "hold" in s.message)
    assert "manual status PENDING noted" in note.message


async def test_state_query_reports_status_and_log(time_skipping_env: WorkflowEnvironment) -> None:
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, request_spec())
        await handle.result()
        state = await handle.query(DnsProvisioningWorkflow.state)
    assert state.status == "COMPLETED"
    assert [entry["status"] for entry in state.log if entry["status"]] == ["IN_PROGRESS", "COMPLETED"]
    assert state.allowed_actions == []
    assert state.attempts == 1


async def test_workflow_id_is_derived_from_the_request_id(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    spec = request_spec()
    assert spec.workflow_id == f"dns-request-{spec.request_id}"
    store = FakeStore()
    async with worker(time_skipping_env, store):
        handle = await start(time_skipping_env, spec)
        await handle.result()
    assert handle.id == spec.workflow_id
