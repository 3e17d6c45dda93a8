"""A request is accepted once its row and its queued workflow start commit; its workflow starts after:
at once in the background, by a sweep when that did not happen, or first thing when an operator acts.
Real PostgreSQL and the Temporal dev server; no worker runs the real workflow here."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from devstack.ports import free_port
from devstack.postgres import LocalPostgres
from devstack.temporal import TemporalDevServer
from dnsorch import migrate
from dnsorch.contracts import (
    OperatorAction,
    ProvisioningInput,
    RequestStatus,
    ServiceUnavailable,
    StatusChange,
)
from dnsorch.requests import AcceptService, CreateDnsRequest, OperateService, WorkflowStarter
from dnsorch.settings import Settings
from dnsorch.store import make_engine, workflow_starts
from dnsorch.temporal import ProvisioningGateway
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


class StarterThatDied(WorkflowStarter):
    """The accepting process died right after the commit: its background start never ran."""

    def start_soon(self, params: ProvisioningInput, payload: Payload | None = None) -> None:
        pass


@workflow.defn(name="DnsProvisioningWorkflow")
class SteerableStub:
    """Stands in for the request's workflow: answers an operator's action, records a v1 status."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, params: ProvisioningInput) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.update(name="act")
    async def act(self, action: OperatorAction) -> str:
        self.done = True
        return f"done: {action.action}"

    @workflow.signal(name="update_status")
    async def update_status(self, change: StatusChange) -> None:
        self.done = True


@dataclass
class Stack:
    engine: Engine
    client: Client
    settings: Settings

    def gateway(self, client: Client | None = None) -> ProvisioningGateway:
        return ProvisioningGateway(client or self.client, self.settings.temporal_task_queue)

    def accept(self, starter: WorkflowStarter) -> AcceptService:
        return AcceptService(self.engine, starter.gateway, self.settings, starter)

    def queued(self, request_id: str) -> workflow_starts.QueuedStart | None:
        with self.engine.begin() as conn:
            return workflow_starts.queued(conn, request_id)

    def entry_row(self, request_id: str) -> tuple[int, str | None] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT attempts, last_error FROM workflow_starts WHERE request_id = :id"),
                {"id": uuid.UUID(request_id)},
            ).first()
        return None if row is None else (row[0], row[1])

    async def workflow_input(self, request_id: str) -> ProvisioningInput:
        started = await self.gateway().started(f"dns-request-{request_id}")
        return started.params

    async def runs_of(self, request_id: str) -> int:
        query = f"WorkflowId = 'dns-request-{request_id}'"
        return len([run async for run in self.client.list_workflows(query)])


@pytest.fixture
async def stack(postgres_server: LocalPostgres, temporal_server: TemporalDevServer) -> AsyncIterator[Stack]:
    postgres_server.ensure_database("accept_outbox")
    url = postgres_server.url("accept_outbox")
    migrate.upgrade(url)
    # Sweeps take an entry at once here: the grace is what they would otherwise wait out.
    settings = Settings(
        database_url=url,
        temporal_address=temporal_server.address,
        temporal_task_queue=f"outbox-{uuid.uuid4()}",
        outbox_start_grace_seconds=0,
    )
    engine = make_engine(url)
    yield Stack(engine, await Client.connect(temporal_server.address), settings)
    engine.dispose()


def body() -> CreateDnsRequest:
    return CreateDnsRequest.model_validate(
        {
            "context": {"account_id": "acct-outbox"},
            "resource": {
                "record_type": "A",
                "domain": f"o{uuid.uuid4().hex[:8]}.example.test",
                "target": "192.0.2.8",
                "config": {"ttl": 600, "extra_config": {"note": "ünïcode", "n": 1.5}},
            },
        }
    )


class StarterThatKeeps(WorkflowStarter):
    """Starts as usual, and keeps the input it was handed (the one the queued entry holds)."""

    handed: ProvisioningInput | None = None

    def start_soon(self, params: ProvisioningInput, payload: Payload | None = None) -> None:
        self.handed = params
        super().start_soon(params, payload)


async def test_accept_answers_then_starts_the_workflow_with_the_queued_input(stack: Stack) -> None:
    starter = StarterThatKeeps(stack.engine, stack.gateway(), stack.settings)
    service = stack.accept(starter)
    accepted = await service.create(body(), source="api")
    assert accepted.created and accepted.stored
    await starter.close()
    assert stack.queued(accepted.request_id) is None
    assert accepted.spec is not None
    started = await stack.workflow_input(accepted.request_id)
    assert started.request == accepted.spec, "the workflow holds another request than was accepted"
    assert started == starter.handed, "the workflow's input differs from the one accept queued"


async def test_a_start_left_behind_by_a_dead_process_is_started_by_the_sweep(stack: Stack) -> None:
    accepted = await stack.accept(StarterThatDied(stack.engine, stack.gateway(), stack.settings)).create(
        body(), source="api"
    )
    entry = stack.queued(accepted.request_id)
    assert entry is not None, "accepted without a queued start"
    assert entry.params.request == accepted.spec, "the queued input is not the request accepted"

    sweeper = WorkflowStarter(stack.engine, stack.gateway(), stack.settings)
    assert await sweeper.sweep() >= 1
    assert stack.queued(accepted.request_id) is None
    assert await stack.workflow_input(accepted.request_id) == entry.params


async def test_temporal_unreachable_at_accept_still_accepts_and_starts_once_it_is_back(stack: Stack) -> None:
    away = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    starter = WorkflowStarter(stack.engine, stack.gateway(away), stack.settings)
    accepted = await stack.accept(starter).create(body(), source="api")
    assert accepted.created
    attempts, error = await eventually(
        lambda: stack.entry_row(accepted.request_id),
        lambda row: row is not None and row[1] is not None,
        timeout=60,
        what="the failed start recorded on its entry",
    )
    assert attempts == 1 and "Temporal" in (error or "")
    with pytest.raises(RPCError):
        await stack.client.get_workflow_handle(f"dns-request-{accepted.request_id}").describe()

    back = WorkflowStarter(stack.engine, stack.gateway(), stack.settings)
    await eventually(back.sweep, timeout=30, what="a sweep that takes the entry")
    assert stack.queued(accepted.request_id) is None
    assert (await stack.workflow_input(accepted.request_id)).request == accepted.spec


async def test_starters_and_sweepers_racing_on_one_entry_start_one_workflow(stack: Stack) -> None:
    accepted = await stack.accept(StarterThatDied(stack.engine, stack.gateway(), stack.settings)).create(
        body(), source="api"
    )
    entry = stack.queued(accepted.request_id)
    assert entry is not None
    starters = [WorkflowStarter(stack.engine, stack.gateway(), stack.settings) for _ in range(4)]
    await asyncio.gather(
        starters[0].start(entry), starters[1].start(entry), starters[2].sweep(), starters[3].sweep()
    )
    assert stack.queued(accepted.request_id) is None
    assert await stack.runs_of(accepted.request_id) == 1


async def test_an_operator_acting_before_the_start_starts_it_then_acts(stack: Stack) -> None:
    starter = StarterThatDied(stack.engine, stack.gateway(), stack.settings)
    service = stack.accept(starter)
    operate = OperateService(stack.engine, stack.gateway(), starter=starter)
    first = await service.create(body(), source="api")
    second = await service.create(body(), source="api")
    async with Worker(
        stack.client,
        task_queue=stack.settings.temporal_task_queue,
        workflows=[SteerableStub],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        # API v2's action (an Update) and v1's status (a signal), each on a request not started yet.
        result = await operate.act(uuid.UUID(first.request_id), "cancel", "changed my mind")
        assert result == "done: cancel"
        await operate.update_status(uuid.UUID(second.request_id), RequestStatus.FAILED, "by hand")
        handle = stack.client.get_workflow_handle(f"dns-request-{second.request_id}")
        await handle.result()  # the stub ends once the signal arrived
    assert stack.queued(first.request_id) is None and stack.queued(second.request_id) is None


async def test_a_sweep_takes_only_the_starts_queued_for_its_own_task_queue(stack: Stack) -> None:
    """Deployments (or test stacks) that share one database but run workers on other task queues
    never start each other's requests: a sweep on the wrong queue would hand a request to workers
    that were never meant to apply it. Seen in the full suite: a Kafka test's requests were started
    on another stack's queue, whose worker completed them."""
    accepted = await stack.accept(StarterThatDied(stack.engine, stack.gateway(), stack.settings)).create(
        body(), source="api"
    )
    other = stack.settings.model_copy(update={"temporal_task_queue": f"other-{uuid.uuid4()}"})
    elsewhere = WorkflowStarter(
        stack.engine, ProvisioningGateway(stack.client, other.temporal_task_queue), other
    )
    await elsewhere.sweep()
    assert stack.queued(accepted.request_id) is not None, "another queue's sweep took the entry"

    own = WorkflowStarter(stack.engine, stack.gateway(), stack.settings)
    assert await own.sweep() >= 1
    assert stack.queued(accepted.request_id) is None
    described = await stack.client.get_workflow_handle(f"dns-request-{accepted.request_id}").describe()
    assert described.task_queue == stack.settings.temporal_task_queue


class GatewayStub(ProvisioningGateway):
    """Starts nothing: answers at once, refuses the ids in `refused`, and tells the test each call."""

    def __init__(self, stack: Stack, refused: set[str] | None = None) -> None:
        super().__init__(stack.client, stack.settings.temporal_task_queue)
        self.refused = refused or set()
        self.calls: list[str] = []

    async def start(self, params: ProvisioningInput, *, payload: Payload | None = None) -> bool:
        self.calls.append(params.request.request_id)
        if params.request.request_id in self.refused:
            raise ServiceUnavailable.temporal("refused by the test")
        return True


class HeldDeletes:
    """Holds the first DELETE of queued entries until released, and keeps every such statement's ids."""

    def __init__(self, engine: Engine) -> None:
        self.deleted: list[set[str]] = []
        self.entered, self.release = threading.Event(), threading.Event()
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        if statement.startswith("DELETE FROM workflow_starts"):
            self.deleted.append({str(value) for value in dict(parameters).values()})
            self.entered.set()
            self.release.wait(timeout=60)


async def test_starts_finishing_during_a_delete_have_their_entries_deleted_together(stack: Stack) -> None:
    """One DELETE for the starts that finish while another is in flight; each start returns only
    once its own entry is gone."""
    service = stack.accept(StarterThatDied(stack.engine, stack.gateway(), stack.settings))
    ids = [(await service.create(body(), source="api")).request_id for _ in range(3)]
    first, second, third = ids
    entries = {request_id: stack.queued(request_id) for request_id in ids}
    gateway = GatewayStub(stack)
    starter = WorkflowStarter(stack.engine, gateway, stack.settings)
    held = HeldDeletes(stack.engine)

    async def start_then_look(request_id: str) -> workflow_starts.QueuedStart | None:
        entry = entries[request_id]
        assert entry is not None
        await starter.start(entry)
        return stack.queued(request_id)

    alone = asyncio.create_task(start_then_look(first))
    await asyncio.to_thread(held.entered.wait, 60)  # the first entry's delete is in flight
    together = [asyncio.create_task(start_then_look(request_id)) for request_id in (second, third)]
    await eventually(lambda: len(gateway.calls) == 3, timeout=30, what="both later starts answered")
    held.release.set()
    assert await asyncio.gather(alone, *together) == [None, None, None]
    assert held.deleted == [{first}, {second, third}]


async def test_an_entry_whose_start_failed_stays_while_its_batch_mates_are_deleted(stack: Stack) -> None:
    service = stack.accept(StarterThatDied(stack.engine, stack.gateway(), stack.settings))
    ids = [(await service.create(body(), source="api")).request_id for _ in range(2)]
    failed, started = ids
    sweeper = WorkflowStarter(stack.engine, GatewayStub(stack, refused={failed}), stack.settings)
    assert await sweeper.sweep() >= 2
    assert stack.queued(started) is None
    assert stack.queued(failed) is not None, "the entry of a start that failed was deleted"
    assert stack.entry_row(failed) == (1, "Temporal is unavailable: refused by the test")


async def test_starts_finishing_together_share_one_delete(stack: Stack) -> None:
    service = stack.accept(StarterThatDied(stack.engine, stack.gateway(), stack.settings))
    ids = {(await service.create(body(), source="api")).request_id for _ in range(3)}
    held = HeldDeletes(stack.engine)
    held.release.set()  # nothing held: only the statements are kept
    sweeper = WorkflowStarter(stack.engine, GatewayStub(stack), stack.settings)
    assert await sweeper.sweep() == 3
    assert held.deleted == [ids]
    assert all(stack.queued(request_id) is None for request_id in ids)
