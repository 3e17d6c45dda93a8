"""One request at a time changes a name, in the order requests were accepted: the real workflow, the
real database activities and name claims on PostgreSQL, with a stand-in playbook that can be held."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.database import DatabaseActivities
from activities.freezes import FreezeActivities
from activities.name_claims import NameClaims, NameTurnActivities
from activities.pools import ThreadPool
from activities.turns_and_plans import TurnsAndPlansActivities
from devstack.temporal import TemporalDevServer
from dnsorch.contracts import (
    ApplyPolicy,
    ApplyResult,
    ChangePlan,
    DnsChange,
    DnsRequestSpec,
    LogStep,
    NameServer,
    OperatorAction,
    ProvisioningInput,
    ServedCheck,
    ServerAnswer,
    WorkflowState,
    ZoneServed,
)
from dnsorch.store import name_claims, request_rows
from dnsorch.temporal import ensure_search_attributes, initial_attributes
from tests.fixtures.specs import fresh_name, request_spec
from tests.fixtures.waiting import eventually
from workflows.provisioning import DnsProvisioningWorkflow

pytestmark = pytest.mark.integration
POLICY = ApplyPolicy(max_attempts=2, initial_retry_seconds=0.2, max_retry_seconds=1, heartbeat_seconds=5)


@dataclass
class HeldPlaybook:
    """The apply activity's shape: wait for the name's turn (the workflow took it already, unless
    it started before the turn came first), then 'run' until released or cancelled."""

    claims: NameClaims
    held: bool = True
    stop_delay: float = 0.0
    started: list[str] = field(default_factory=list)
    started_at: dict[str, float] = field(default_factory=dict)
    stopped_at: dict[str, float] = field(default_factory=dict)

    @activity.defn(name="apply_dns_change")
    async def apply(self, change: DnsChange) -> ApplyResult:
        turn = asyncio.ensure_future(self.claims.wait_for_turn(change))
        try:
            while not turn.done():  # heartbeats carry a cancellation in, as the real activity's do
                activity.heartbeat()
                await asyncio.wait({turn}, timeout=0.1)
        except asyncio.CancelledError:
            turn.cancel()
            raise
        self.started.append(change.request_id)
        self.started_at[change.request_id] = time.monotonic()
        try:
            while self.held:
                activity.heartbeat()
                await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            await asyncio.sleep(self.stop_delay)  # a playbook being killed takes a moment
            self.stopped_at[change.request_id] = time.monotonic()
            raise
        return ApplyResult(served=change.values, changed=True)


@activity.defn(name="plan_change")
async def plan_as_add(change: DnsChange) -> ChangePlan:
    return ChangePlan("add", new_values=change.values, new_ttl=change.ttl)


@activity.defn(name="authoritative_servers")
async def one_server(zone: str) -> list[NameServer]:
    return [NameServer(f"ns1.{zone}", "127.0.0.1", 53)]


@activity.defn(name="check_served")
async def served_at_once(check: ServedCheck) -> list[ServerAnswer]:
    return [
        ServerAnswer(server, serves=True, served=check.change.values, seconds=0.0) for server in check.servers
    ]


@activity.defn(name="check_served_in_zone")
async def zone_served_at_once(check: ServedCheck) -> ZoneServed:
    servers = await one_server(check.change.zone)
    return ZoneServed(servers, await served_at_once(dataclasses.replace(check, servers=servers)))


@dataclass
class Stack:
    client: Client
    playbook: HeldPlaybook
    queue: str

    async def start(
        self, domain: str, *, accepted_at: datetime | None = None
    ) -> WorkflowHandle[DnsProvisioningWorkflow, WorkflowState]:
        spec = spec_for(domain, accepted_at or datetime.now(UTC))
        return await self.client.start_workflow(
            DnsProvisioningWorkflow.run,
            ProvisioningInput(request=spec, policy=POLICY),
            id=spec.workflow_id,
            task_queue=self.queue,
            search_attributes=initial_attributes(
                domain=domain,
                zone="example.test",
                record_type="A",
                operation="create",
                status="PENDING",
                account="acct-order",
                source="api",
            ),
        )

    async def until_started(self, count: int) -> None:
        await eventually(
            lambda: list(self.playbook.started),
            lambda started: len(started) >= count,
            timeout=20,
            interval=0.05,
            what=f"{count} apply(s) started",
        )

    async def until_waiting(self, handle: WorkflowHandle) -> None:  # type: ignore[type-arg]
        """Until the request waits for its name's turn (its timeline says so)."""

        async def log() -> list[str]:
            state = await handle.query(DnsProvisioningWorkflow.state)
            return [entry["message"] for entry in state.log]

        await eventually(
            log,
            lambda lines: any(line.startswith("waiting for request") for line in lines),
            timeout=20,
            interval=0.05,
            what=f"{handle.id} waiting for its name",
        )


def request_id(handle: WorkflowHandle) -> str:  # type: ignore[type-arg]
    return handle.id.removeprefix("dns-request-")


async def status(handle: WorkflowHandle) -> str:  # type: ignore[type-arg]
    return (await handle.result()).status


def spec_for(domain: str, accepted_at: datetime) -> DnsRequestSpec:
    return request_spec(account_id="acct-order", domain=domain, target="192.0.2.7", accepted_at=accepted_at)


def in_progress(spec: DnsRequestSpec, status: str = "IN_PROGRESS") -> LogStep:
    return LogStep(spec.request_id, str(uuid.uuid4()), datetime.now(UTC), status.lower(), status=status)


@pytest_asyncio.fixture
async def stack(engine: Engine, temporal_server: TemporalDevServer) -> AsyncIterator[Stack]:
    client = await Client.connect(temporal_server.address)
    await ensure_search_attributes(client, "default")
    database = DatabaseActivities(engine)
    claims = NameClaims(engine, ThreadPool("claims-test", 8))
    playbook = HeldPlaybook(claims)
    turns = NameTurnActivities(claims, heartbeat_every=1.0)
    freezes = FreezeActivities(engine, ThreadPool("freezes-test", 2))
    queue = f"order-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[DnsProvisioningWorkflow],
        activities=[
            database.begin_request,
            database.finish_request,
            database.record_step,
            database.store_record,
            database.ensure_request_row,
            turns.take_name_turn,
            turns.wait_for_name_turn,
            TurnsAndPlansActivities(claims, plan_as_add).take_turns_and_plan,
            database.begin_request_and_freeze,
            freezes.freeze_at,
            playbook.apply,
            plan_as_add,
            one_server,
            served_at_once,
            zone_served_at_once,
        ],
    )
    async with worker:
        yield Stack(client, playbook, queue)
        playbook.held = False


async def test_a_second_request_for_a_name_applies_only_after_the_first_finished(stack: Stack) -> None:
    name = fresh_name("n")
    first = await stack.start(name)
    await stack.until_started(1)
    second = await stack.start(name)
    other = await stack.start(fresh_name("n"))  # another name is not held up
    await stack.until_started(2)
    assert stack.playbook.started[1] == request_id(other)
    stack.playbook.held = False
    assert await status(first) == await status(second) == await status(other) == "COMPLETED"
    assert stack.playbook.started.index(request_id(second)) > stack.playbook.started.index(request_id(first))


def test_a_free_name_goes_to_the_earliest_accepted_request_that_waits_for_it(engine: Engine) -> None:
    name, accepted = fresh_name("n"), datetime.now(UTC)
    early, late = spec_for(name, accepted), spec_for(name, accepted + timedelta(seconds=1))
    with engine.begin() as conn:
        for spec in (late, early):  # the later one's workflow began first
            request_rows.begin_request(conn, spec, spec.accepted_at, in_progress(spec))
    with engine.begin() as conn:
        assert name_claims.claim_name(conn, name, late.request_id, 60) == early.request_id
        assert name_claims.claim_name(conn, name, early.request_id, 60) == early.request_id
        assert name_claims.claim_name(conn, name, late.request_id, 60) == early.request_id
    with engine.begin() as conn:  # the holder's next status releases the name
        request_rows.append_step(conn, in_progress(early, status="COMPLETED"))
    with engine.begin() as conn:
        assert name_claims.claim_name(conn, name, late.request_id, 60) == late.request_id


def test_a_ptr_name_waits_only_for_requests_at_that_name_not_at_the_forward_name(engine: Engine) -> None:
    """A create at a name holds it and claims its PTR's name (patch ptr-in-apply), while an older
    request at the same forward name waits for that name. The PTR name must not wait for the older
    request too: each would wait for the other for ever (found by the soak, SEED=11)."""
    name, ptr_name, accepted = (
        fresh_name("lab"),
        f"{uuid.uuid4().int % 250 + 1}.2.0.192.in-addr.arpa",
        datetime.now(UTC),
    )
    older = dataclasses.replace(spec_for(name, accepted), record_type="TXT", target='"v=1"')
    create = spec_for(name, accepted + timedelta(milliseconds=50))
    with engine.begin() as conn:
        request_rows.begin_request(conn, create, create.accepted_at, in_progress(create))
        assert name_claims.claim_name(conn, name, create.request_id, 60) == create.request_id
        request_rows.begin_request(conn, older, older.accepted_at, in_progress(older))  # began after
    with engine.begin() as conn:
        assert name_claims.claim_name(conn, name, older.request_id, 60) == create.request_id, "it waits"
        assert name_claims.claim_name(conn, ptr_name, create.request_id, 60) == create.request_id


async def test_cancelling_a_request_that_waits_for_the_name_frees_its_place(stack: Stack) -> None:
    name = fresh_name("n")
    first = await stack.start(name)
    await stack.until_started(1)
    waiting = await stack.start(name)
    await stack.until_waiting(waiting)
    assert await waiting.execute_update("act", OperatorAction("cancel", "op")) == "CANCELLED"
    stack.playbook.held = False
    assert await status(first) == "COMPLETED"
    third = await stack.start(name)
    assert await status(third) == "COMPLETED"
    assert stack.playbook.started == [request_id(first), request_id(third)]


async def test_the_next_request_waits_until_a_cancelled_playbook_has_stopped(stack: Stack) -> None:
    stack.playbook.stop_delay = 1.5
    name = fresh_name("n")
    first = await stack.start(name)
    await stack.until_started(1)
    second = await stack.start(name)
    assert await first.execute_update("act", OperatorAction("cancel", "op")) == "CANCELLED"
    await stack.until_started(2)
    stack.playbook.held = False
    assert await status(second) == "COMPLETED"
    assert stack.playbook.started_at[request_id(second)] >= stack.playbook.stopped_at[request_id(first)]


async def test_a_name_held_by_a_terminated_workflow_is_taken_over_after_the_lease(stack: Stack) -> None:
    stack.playbook.claims.lease_seconds = 2.0
    name = fresh_name("n")
    first = await stack.start(name)
    await stack.until_started(1)
    await first.terminate("gone by hand")  # no final status: its claim stays until the lease ends
    second = await stack.start(name)
    await stack.until_started(2)
    stack.playbook.held = False
    assert await status(second) == "COMPLETED"
