"""Fault suite, dnsorch's own processes: the API and the worker SIGKILLed under load, for real.

The servers here are the session's (nothing restarts them); each test has its own task queue,
API port, account and names, and checks PostgreSQL, Temporal and BIND, not just the answers.
Server restarts (PostgreSQL, Temporal, BIND) are in test_faults_servers.py.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.client import WorkflowExecutionStatus

from devstack.temporal import TemporalDevServer
from dnsorch.requests import idempotency_request_id
from tests.fixtures.dns import served
from tests.fixtures.fault_scenario import fault_scenario
from tests.fixtures.faults import (
    RequestRow,
    assert_exactly_once,
    async_client,
    fault_stack,
    provisioning_workflows,
    request_rows,
    session_key,
    status_counts,
    submissions,
    submit_all,
    terminate_running,
)
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.fault]


async def test_api_sigkilled_mid_accept_leaves_one_row_and_one_workflow_per_request(
    stack_env: dict[str, str],
    database_url: str,
    engine: Engine,
    temporal_server: TemporalDevServer,
    tmp_path: Path,
) -> None:
    """SIGKILL the API while ~50 creates are in flight; clients retry with the same key.

    The account needs approval, so each workflow stops right after its first activity (which
    inserts the row if the API died between starting the workflow and inserting it): the test
    is about the front door and pays for no playbook.
    """
    tag = uuid.uuid4().hex[:6]
    account = f"acct-apikill-{tag}"
    processes = fault_stack(
        stack_env, tmp_path, session_key(stack_env, database_url), APPROVAL_ACCOUNTS=account
    )
    subs = submissions(account, f"apikill{tag}", 50)
    try:
        processes.start("worker")
        processes.start("api")
        started = time.monotonic()
        async with async_client(processes) as client:
            clients = asyncio.create_task(submit_all(client, subs, timeout=90, pause=0.1))

            await eventually(
                lambda: sum(sub.request_id is not None for sub in subs),
                lambda answered: answered >= 5,
                timeout=30,
                interval=0.005,
                what="first creates answered",
            )
            processes.kill("api")
            answered_before_kill = sum(sub.request_id is not None for sub in subs)
            await asyncio.to_thread(processes.start, "api", "api-2")
            await clients
        accepted_in = time.monotonic() - started

        refused = {sub.key: sub.seen for sub in subs if sub.request_id is None}
        assert not refused, f"never accepted: {refused}"
        interrupted = [sub for sub in subs if sub.interrupted]
        assert interrupted, "the kill hit no request in flight: nothing was tested"
        for sub in subs:  # a retry answers the request its key made, not a new one
            assert sub.request_id == idempotency_request_id(account, sub.key)

        async def rows_and_workflows() -> tuple[list[RequestRow], list[tuple[str, WorkflowExecutionStatus]]]:
            return request_rows(engine, account), await provisioning_workflows(
                temporal_server.address, account
            )

        rows, workflows = await eventually(
            rows_and_workflows,
            lambda seen: (
                len(seen[0]) == len(seen[1]) == len(subs)
                and all(row.status == "PENDING_APPROVAL" for row in seen[0])
            ),
            timeout=60,
            what="every workflow past its first activity, one row each",
        )
        assert_exactly_once(subs, rows, workflows, completed=False)
        assert status_counts(engine, account) == {"PENDING_APPROVAL": len(subs)}

        worker_log = (tmp_path / "worker.log").read_text(errors="replace")
        made_by_workflow = worker_log.count("request row was missing; created it from the workflow input")
        print(
            f"\n[api sigkill] {len(subs)} creates, {answered_before_kill} answered before the kill, "
            f"{len(interrupted)} interrupted and retried, {made_by_workflow} rows written by the "
            f"workflow's first activity; all accepted in {accepted_in:.1f}s"
        )
    finally:
        processes.stop_all()
        await terminate_running(temporal_server.address, account)


@pytest.mark.timeout(900)
async def test_200_concurrent_creates_survive_a_worker_sigkill_exactly_once(
    stack_env: dict[str, str],
    database_url: str,
    engine: Engine,
    temporal_server: TemporalDevServer,
    bind_server: Any,
    tmp_path: Path,
) -> None:
    """200 creates at once (v2, unique names); the worker is SIGKILLed once BIND serves a quarter.

    Afterwards: 200 rows, 200 workflows, 200 dns_records and 200 answers from BIND. Each record
    costs one ansible-playbook run (~1.8 CPU-s): FAULT_LOAD_REQUESTS=50 makes a quick local run.
    """
    tag = uuid.uuid4().hex[:6]
    account = f"acct-load-{tag}"
    total = int(os.environ.get("FAULT_LOAD_REQUESTS", "200"))
    subs = submissions(account, f"load{tag}", total)
    async with fault_scenario(
        stack_env,
        tmp_path,
        session_key(stack_env, database_url),
        engine=engine,
        temporal_address=temporal_server.address,
        dns=bind_server,
        account=account,
        connections=total,
    ) as scenario:
        await scenario.submit(subs, timeout=120)
        accepted_in = time.monotonic() - scenario.started

        def served_count() -> int:  # BIND's answers: the work done, whatever the rows say
            return sum(served(bind_server, sub.domain) == [sub.body["resource"]["target"]] for sub in subs)

        await eventually(
            lambda: asyncio.to_thread(served_count),
            lambda count: count >= total // 4,
            timeout=400,
            interval=1,
            what="a quarter served",
        )
        killed_at = time.monotonic() - scenario.started
        at_kill = status_counts(engine, account)
        async with scenario.outage(
            lambda: scenario.processes.kill("worker"),
            lambda: scenario.processes.start("worker", name="worker-2"),
        ):
            pass  # a SIGKILLed worker is replaced at once, as a supervisor would

        done = await scenario.settle(timeout=800)
        finished_in = done.at - scenario.started
        print(
            f"\n[load 200 + worker sigkill] accepted in {accepted_in:.1f}s "
            f"({total / accepted_in:.0f} req/s), worker killed at {killed_at:.0f}s with a quarter "
            f"served by BIND (rows then: {at_kill}), "
            f"all COMPLETED in {finished_in:.0f}s ({total / finished_in:.2f} req/s end to end)"
        )
        # Last, so the exactly-once results above are reported either way: on a live worker no
        # activity may outlive its timeout (database writes used to wait behind playbooks for a
        # thread past their 30 s; see activities/pools.py).
        late = [
            line
            for name in ("worker", "worker-2")
            for line in scenario.log(name).splitlines()
            if "Activity not found on completion" in line
        ]
        assert not late, f"{len(late)} activities outlived their timeout on a live worker: {late[0][:300]}"
