"""Fault suite, the servers: PostgreSQL, Temporal and BIND stopped and started while requests flow.

Each test restarts a server of its own (the session's are shared with other tests) and uses the
session's for the rest; clients retry like real ones, with the same Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from devstack.temporal import TemporalDevServer
from dnsorch.db import make_engine
from dnsorch.service import idempotency_request_id
from tests.fixtures.faults import (
    Submission,
    admin_key_for,
    assert_exactly_once,
    async_client,
    eventually,
    fault_stack,
    own_bind,
    own_postgres,
    own_temporal,
    provisioning_workflows,
    request_rows,
    served_a,
    session_key,
    settled,
    status_counts,
    submissions,
    submit_all,
)

OUTAGE_SECONDS = 8  # long enough for every retrying client to be refused a few times

pytestmark = [pytest.mark.e2e, pytest.mark.fault]


def assert_served(host: str, port: int, subs: list[Submission]) -> None:
    wrong = {
        sub.domain: answer
        for sub in subs
        if (answer := served_a(host, port, sub.domain)) != [sub.body["resource"]["target"]]
    }
    assert not wrong, f"BIND does not serve: {wrong}"


async def workflow_exists(address: str, workflow_id: str) -> bool:
    client = await Client.connect(address)
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


@pytest.mark.timeout(400)
async def test_postgres_down_refuses_cleanly_and_loses_nothing(
    stack_env: dict[str, str], temporal_server: TemporalDevServer, bind_server: Any, tmp_path: Path
) -> None:
    """Creates accepted just before PostgreSQL stops finish once it is back (OUTAGE_SECONDS later).

    While it is down every create is refused with 503 + Retry-After and nothing is started (the
    API key is checked in PostgreSQL first); clients retrying with their keys get through after.
    """
    tag = uuid.uuid4().hex[:6]
    account = f"acct-pgdown-{tag}"
    with own_postgres(tmp_path) as (postgres, url):
        engine = make_engine(url)
        processes = fault_stack(stack_env, tmp_path, admin_key_for(url), DATABASE_URL=url)
        before = submissions(account, f"pgdown{tag}", 6)
        during = submissions(account, f"pgdown{tag}", 6, start=6)
        try:
            processes.start("worker")
            processes.start("api")
            started = time.monotonic()
            async with async_client(processes) as client:
                await submit_all(client, before, timeout=30)
                assert all(sub.accepted_status == 202 for sub in before), [s.seen for s in before]

                await asyncio.to_thread(postgres.stop)
                down_at = time.monotonic()
                for sub in during:
                    refused = await client.post(
                        "/api/v2/dns/requests", json=sub.body, headers={"Idempotency-Key": sub.key}
                    )
                    assert refused.status_code == 503, refused.text
                    assert refused.json()["error"]["code"] == "service_unavailable"
                    assert refused.headers["Retry-After"].isdigit()
                reading = await client.get(f"/api/v2/dns/requests/{before[0].request_id}")
                assert reading.status_code == 503
                ready = await client.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["checks"]["postgresql"].startswith("unavailable")
                for sub in during:  # refused means refused: no workflow holds these
                    request_id = idempotency_request_id(account, sub.key)
                    assert not await workflow_exists(temporal_server.address, f"dns-request-{request_id}")

                # Clients retry with their keys, once a second, through the rest of the outage.
                retries = asyncio.create_task(submit_all(client, during, timeout=120, pause=1.0))
                await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
                await asyncio.to_thread(postgres.start)
                back_at = time.monotonic()
                await retries
            assert all(sub.accepted_status == 202 for sub in during), [s.seen for s in during]
            assert all(503 in sub.seen for sub in during)

            subs = before + during
            rows, workflows = await settled(engine, temporal_server.address, account, len(subs), 150)
            finished = time.monotonic()
            assert len(rows) == len(workflows) == len(subs)
            assert_exactly_once(subs, rows, workflows, completed=True)
            assert_served(bind_server.host, bind_server.port, subs)
            print(
                f"\n[postgres down] down {back_at - down_at:.0f}s; {len(subs)} COMPLETED "
                f"{finished - back_at:.0f}s after it came back ({finished - started:.0f}s in all)"
            )
        finally:
            processes.stop_all()
            engine.dispose()


def _lock_waiters(engine: Engine) -> int:
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO dns_requests%'"
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


async def test_a_create_whose_row_write_meets_a_postgres_stop_is_answered_accepted_and_done_once(
    stack_env: dict[str, str], temporal_server: TemporalDevServer, bind_server: Any, tmp_path: Path
) -> None:
    """PostgreSQL stops after a create's workflow started but before its row was written.

    The workflow holds the request and its first activity writes the row, so the request is
    accepted, and every front door says so (v1 200, v2 202, with or without Idempotency-Key): an
    error answer would make a client without a key retry and provision the name twice.
    A SHARE lock on dns_requests holds the API's inserts (reads pass) until PostgreSQL stops.
    """
    tag = uuid.uuid4().hex[:6]
    account = f"acct-midaccept-{tag}"
    keyed, keyless, v1 = submissions(account, f"midaccept{tag}", 3)
    with own_postgres(tmp_path) as (postgres, url):
        engine = make_engine(url)
        processes = fault_stack(stack_env, tmp_path, admin_key_for(url), DATABASE_URL=url)
        try:
            processes.start("api")  # the worker comes later: nothing may write the rows meanwhile
            async with async_client(processes) as client:
                locker = psycopg2.connect(
                    host="127.0.0.1", port=postgres.port, user="postgres", dbname="dnsorch"
                )
                try:
                    locker.cursor().execute("LOCK TABLE dns_requests IN SHARE MODE")  # until PG stops
                    posts = [
                        asyncio.create_task(
                            client.post(
                                "/api/v2/dns/requests",
                                json=keyed.body,
                                headers={"Idempotency-Key": keyed.key},
                            )
                        ),
                        asyncio.create_task(client.post("/api/v2/dns/requests", json=keyless.body)),
                        asyncio.create_task(
                            client.post(
                                "/api/v1/dns/create",
                                json={"context": v1.body["context"], "resource": v1.body["resource"]},
                            )
                        ),
                    ]

                    async def inserts_blocked() -> bool:
                        return await asyncio.to_thread(_lock_waiters, engine) >= len(posts)

                    await eventually(inserts_blocked, timeout=30, interval=0.1, what="inserts waiting")
                    await asyncio.to_thread(postgres.stop)
                finally:
                    with contextlib.suppress(psycopg2.Error):
                        locker.close()
                answers = await asyncio.gather(*posts)
                engine.dispose()  # its pooled connections died with the server
                statuses = [answer.status_code for answer in answers]
                assert statuses == [202, 202, 200], [a.text for a in answers]
                assert [a.json()["status"] for a in answers] == ["PENDING"] * 3
                await asyncio.to_thread(postgres.start)

                workflows = await provisioning_workflows(temporal_server.address, account)
                assert len(workflows) == 3, "every workflow was started before PostgreSQL stopped"
                processes.start("worker")
                await settled(engine, temporal_server.address, account, 3, timeout=90)

                # With a key: the retry answers the request the workflow holds; one of everything.
                retried = await client.post(
                    "/api/v2/dns/requests", json=keyed.body, headers={"Idempotency-Key": keyed.key}
                )
                assert retried.status_code == 202, retried.text
                assert retried.json()["request_id"] == idempotency_request_id(account, keyed.key)
                assert retried.json()["status"] == "COMPLETED"

                # Each answer named the request that was then provisioned, once.
                rows = request_rows(engine, account)
                assert len(rows) == 3
                by_domain = {row.domain: row for row in rows}
                for answer, sub in zip(answers, (keyed, keyless, v1), strict=True):
                    assert str(by_domain[sub.domain].id) == str(answer.json()["request_id"])
                    assert by_domain[sub.domain].status == "COMPLETED"
                    assert served_a(bind_server.host, bind_server.port, sub.domain) == [
                        sub.body["resource"]["target"]
                    ]
        finally:
            processes.stop_all()
            engine.dispose()


@pytest.mark.timeout(300)
async def test_temporal_restarted_mid_flight_completes_every_accepted_request_once(
    stack_env: dict[str, str], database_url: str, engine: Engine, bind_server: Any, tmp_path: Path
) -> None:
    """Stop the Temporal dev server (same port, same SQLite file) with workflows mid-flight, keep
    creating through the restart: every accepted request ends COMPLETED, once."""
    tag = uuid.uuid4().hex[:6]
    account = f"acct-tempdown-{tag}"
    with own_temporal(tmp_path) as temporal:
        processes = fault_stack(
            stack_env, tmp_path, session_key(stack_env, database_url), TEMPORAL_ADDRESS=temporal.address
        )
        first = submissions(account, f"tempdown{tag}", 8)
        second = submissions(account, f"tempdown{tag}", 6, start=8)
        try:
            processes.start("worker")
            processes.start("api")
            started = time.monotonic()
            async with async_client(processes) as client:
                await submit_all(client, first, timeout=30)
                assert all(sub.accepted_status == 202 for sub in first), [s.seen for s in first]

                async def some_in_progress() -> bool:
                    return status_counts(engine, account).get("IN_PROGRESS", 0) >= 2

                await eventually(some_in_progress, timeout=60, what="requests in progress")
                in_flight = status_counts(engine, account)
                await asyncio.to_thread(temporal.stop)
                down_at = time.monotonic()
                creating = asyncio.create_task(submit_all(client, second, timeout=90, pause=0.5))
                await asyncio.sleep(3)
                await asyncio.to_thread(temporal.start)
                back_at = time.monotonic()
                await creating
            assert all(sub.accepted_status == 202 for sub in second), [s.seen for s in second]

            subs = first + second
            rows, workflows = await settled(engine, temporal.address, account, len(subs), timeout=180)
            finished = time.monotonic()
            assert len(rows) == len(workflows) == len(subs)
            assert_exactly_once(subs, rows, workflows, completed=True)
            assert_served(bind_server.host, bind_server.port, subs)
            refused = sum(1 for sub in second if len(sub.seen) > 1)
            print(
                f"\n[temporal restart] in flight at the stop: {in_flight}; down {back_at - down_at:.1f}s; "
                f"{refused}/{len(second)} creates during the restart were refused then retried; "
                f"{len(subs)} COMPLETED {finished - back_at:.0f}s after ({finished - started:.0f}s in all)"
            )
        finally:
            processes.stop_all()


@pytest.mark.timeout(300)
async def test_bind_restarted_mid_flight_requests_complete_after_it_returns(
    stack_env: dict[str, str],
    database_url: str,
    engine: Engine,
    temporal_server: TemporalDevServer,
    tmp_path: Path,
) -> None:
    """Stop BIND with playbooks running and more requests coming, start it once an attempt has failed
    on it (6 s at least): the Ansible step retries (1 s, 2 s, 4 s, ... for 5 attempts) and every
    request ends COMPLETED and served, records made before the restart included (BIND's journal)."""
    tag = uuid.uuid4().hex[:6]
    account = f"acct-binddown-{tag}"
    with own_bind(tmp_path) as bind:
        processes = fault_stack(
            stack_env,
            tmp_path,
            session_key(stack_env, database_url),
            DNS_SERVER=bind.host,
            DNS_PORT=str(bind.port),
            DNS_ZONES="example.test",
            TSIG_KEY_FILE=str(bind.key_file),
        )
        first = submissions(account, f"binddown{tag}", 8)
        second = submissions(account, f"binddown{tag}", 4, start=8)
        try:
            processes.start("worker")
            processes.start("api")
            started = time.monotonic()
            async with async_client(processes) as client:
                await submit_all(client, first, timeout=30)
                assert all(sub.accepted_status == 202 for sub in first), [s.seen for s in first]

                async def one_completed() -> bool:
                    return status_counts(engine, account).get("COMPLETED", 0) >= 1

                await eventually(one_completed, timeout=90, what="a first request completed")
                await asyncio.to_thread(bind.stop)
                down_at = time.monotonic()
                await submit_all(client, second, timeout=30)
                assert all(sub.accepted_status == 202 for sub in second), [s.seen for s in second]

                async def an_attempt_failed() -> bool:  # the outage met a playbook: it is tested
                    return "DnsChangeFailed" in (tmp_path / "worker.log").read_text(errors="replace")

                # Down until an attempt has failed on it (at least 6 s): a fixed 6 s could end before
                # a loaded worker's first playbook ran, and then nothing would have been tested.
                await eventually(an_attempt_failed, timeout=90, interval=0.2, what="an attempt failed")
                await asyncio.sleep(max(0.0, 6 - (time.monotonic() - down_at)))
                await asyncio.to_thread(bind.start)
                back_at = time.monotonic()

            subs = first + second
            rows, workflows = await settled(engine, temporal_server.address, account, len(subs), 180)
            finished = time.monotonic()
            assert len(rows) == len(workflows) == len(subs)
            assert_exactly_once(subs, rows, workflows, completed=True)
            assert_served(bind.host, bind.port, subs)
            worker_log = (tmp_path / "worker.log").read_text(errors="replace")
            failed_attempts = worker_log.count("DnsChangeFailed")
            assert failed_attempts >= 1, "no playbook ran into the outage: nothing was tested"
            assert "DnsChangeRejected" not in worker_log
            print(
                f"\n[bind restart] down {back_at - down_at:.1f}s; {failed_attempts} failed attempts "
                f"retried; {len(subs)} COMPLETED {finished - back_at:.0f}s after it came back "
                f"({finished - started:.0f}s in all)"
            )
        finally:
            processes.stop_all()
