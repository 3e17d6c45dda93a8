"""Fault suite, the servers: PostgreSQL, Temporal and BIND stopped and started while requests flow.

Each test restarts a server of its own (the session's are shared with other tests) and uses the
session's for the rest; clients retry like real ones, with the same Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from devstack.temporal import TemporalDevServer
from dnsorch.requests import idempotency_request_id
from dnsorch.store import make_engine
from tests.fixtures.dns import served
from tests.fixtures.fault_scenario import fault_scenario
from tests.fixtures.faults import (
    admin_key_for,
    async_client,
    fault_stack,
    own_bind,
    own_postgres,
    own_temporal,
    provisioning_workflows,
    request_rows,
    session_key,
    settled,
    status_counts,
    submissions,
)
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.fault]


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
    """Creates accepted just before PostgreSQL stops finish once it is back.

    While it is down every create is refused with 503 + Retry-After and nothing is started (the
    API key is checked in PostgreSQL first); clients retrying with their keys are refused again
    (which is when PostgreSQL comes back) and get through after.
    """
    tag = uuid.uuid4().hex[:6]
    account = f"acct-pgdown-{tag}"
    before = submissions(account, f"pgdown{tag}", 6)
    during = submissions(account, f"pgdown{tag}", 6, start=6)
    with own_postgres(tmp_path) as (postgres, url):
        engine = make_engine(url)
        try:
            async with fault_scenario(
                stack_env,
                tmp_path,
                admin_key_for(url),
                engine=engine,
                temporal_address=temporal_server.address,
                dns=bind_server,
                account=account,
                DATABASE_URL=url,
            ) as scenario:
                client = scenario.client
                await scenario.submit(before)
                async with scenario.outage(postgres.stop, postgres.start) as outage:
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

                    # Clients retry with their keys; PostgreSQL returns once each was refused twice.
                    retries = scenario.keep_submitting(during, timeout=120, pause=0.5)
                    await eventually(
                        lambda: [sub.seen.count(503) for sub in during],
                        lambda refusals: min(refusals) >= 2,
                        timeout=30,
                        interval=0.1,
                        what="every retrying client refused twice during the outage",
                    )
                await retries
                assert all(sub.accepted_status == 202 for sub in during), [s.seen for s in during]
                assert all(503 in sub.seen for sub in during)

                done = await scenario.settle(timeout=150)
                print(
                    f"\n[postgres down] down {outage.seconds:.1f}s; {len(scenario.subs)} COMPLETED "
                    f"{done.at - outage.back_at:.0f}s after it came back "
                    f"({done.at - scenario.started:.0f}s in all)"
                )
        finally:
            engine.dispose()


def _lock_waiters(engine: Engine) -> int:
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND query ILIKE 'INSERT INTO dns_requests%'"
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


async def test_a_create_whose_transaction_meets_a_postgres_stop_is_refused_and_its_retry_done_once(
    stack_env: dict[str, str], temporal_server: TemporalDevServer, bind_server: Any, tmp_path: Path
) -> None:
    """PostgreSQL stops while a create's transaction (its row and its queued workflow start) waits.

    Nothing was committed, so nothing was accepted: every front door answers 503 with the reason, and
    no workflow starts. A client's retry once PostgreSQL is back is accepted, and each request is
    provisioned once. A SHARE lock on dns_requests holds the API's inserts (reads pass) until
    PostgreSQL stops.
    """
    tag = uuid.uuid4().hex[:6]
    account = f"acct-midaccept-{tag}"
    keyed, keyless, v1 = submissions(account, f"midaccept{tag}", 3)
    v1_body = {"context": v1.body["context"], "resource": v1.body["resource"]}
    with own_postgres(tmp_path) as (postgres, url):
        engine = make_engine(url)
        processes = fault_stack(stack_env, tmp_path, admin_key_for(url), DATABASE_URL=url)
        try:
            processes.start("api")
            processes.start("worker")
            async with async_client(processes) as client:

                def send() -> list[asyncio.Task[httpx.Response]]:
                    return [
                        asyncio.create_task(
                            client.post(
                                "/api/v2/dns/requests",
                                json=keyed.body,
                                headers={"Idempotency-Key": keyed.key},
                            )
                        ),
                        asyncio.create_task(client.post("/api/v2/dns/requests", json=keyless.body)),
                        asyncio.create_task(client.post("/api/v1/dns/create", json=v1_body)),
                    ]

                locker = psycopg2.connect(
                    host="127.0.0.1", port=postgres.port, user="postgres", dbname="dnsorch"
                )
                try:
                    locker.cursor().execute("LOCK TABLE dns_requests IN SHARE MODE")  # until PG stops
                    posts = send()
                    await eventually(
                        lambda: asyncio.to_thread(_lock_waiters, engine),
                        lambda waiting: waiting >= len(posts),
                        timeout=30,
                        interval=0.1,
                        what="the API's inserts waiting on the lock",
                    )
                    await asyncio.to_thread(postgres.stop)
                finally:
                    with contextlib.suppress(psycopg2.Error):
                        locker.close()
                answers = await asyncio.gather(*posts)
                engine.dispose()  # its pooled connections died with the server
                assert [a.status_code for a in answers] == [503] * 3, [a.text for a in answers]
                assert {a.json()["error"]["code"] for a in answers} == {"service_unavailable"}
                await asyncio.to_thread(postgres.start)
                assert await provisioning_workflows(temporal_server.address, account) == []

                retried = await asyncio.gather(*send())
                assert [a.status_code for a in retried] == [202, 202, 200], [a.text for a in retried]
                assert retried[0].json()["request_id"] == idempotency_request_id(account, keyed.key)
                await settled(engine, temporal_server.address, account, 3, timeout=90)

                # Each retry's answer named the request that was then provisioned, once.
                rows = request_rows(engine, account)
                assert len(rows) == 3
                by_domain = {row.domain: row for row in rows}
                for answer, sub in zip(retried, (keyed, keyless, v1), strict=True):
                    assert str(by_domain[sub.domain].id) == str(answer.json()["request_id"])
                    assert by_domain[sub.domain].status == "COMPLETED"
                    assert served(bind_server, sub.domain) == [sub.body["resource"]["target"]]
                assert len(await provisioning_workflows(temporal_server.address, account)) == 3
        finally:
            processes.stop_all()
            engine.dispose()


@pytest.mark.timeout(300)
async def test_temporal_restarted_mid_flight_completes_every_accepted_request_once(
    stack_env: dict[str, str], database_url: str, engine: Engine, bind_server: Any, tmp_path: Path
) -> None:
    """Stop the Temporal dev server (same port, same SQLite file) with workflows mid-flight, keep
    creating while it is down: each create is accepted at once (its workflow start waits in the
    outbox), and every accepted request ends COMPLETED, once."""
    tag = uuid.uuid4().hex[:6]
    account = f"acct-tempdown-{tag}"
    first = submissions(account, f"tempdown{tag}", 8)
    second = submissions(account, f"tempdown{tag}", 6, start=8)
    with own_temporal(tmp_path) as temporal:
        async with fault_scenario(
            stack_env,
            tmp_path,
            session_key(stack_env, database_url),
            engine=engine,
            temporal_address=temporal.address,
            dns=bind_server,
            account=account,
            TEMPORAL_ADDRESS=temporal.address,
            OUTBOX_SWEEP_SECONDS="1",
            OUTBOX_START_GRACE_SECONDS="5",
        ) as scenario:
            await scenario.submit(first)
            in_flight = await eventually(
                lambda: status_counts(engine, account),
                lambda counts: counts.get("IN_PROGRESS", 0) >= 2,
                timeout=60,
                what="requests in progress",
            )
            async with scenario.outage(temporal.stop, temporal.start) as outage:
                # Accepted while Temporal is down, each at its first try: a sweep starts them once
                # it is back, and the workflows in flight cross the restart too.
                await scenario.keep_submitting(second, timeout=90, pause=0.5)
                assert [sub.seen for sub in second] == [[202]] * len(second)

            done = await scenario.settle(timeout=180)
            print(
                f"\n[temporal restart] in flight at the stop: {in_flight}; down {outage.seconds:.1f}s; "
                f"{len(second)} creates accepted while it was down; "
                f"{len(scenario.subs)} COMPLETED {done.at - outage.back_at:.0f}s after "
                f"({done.at - scenario.started:.0f}s in all)"
            )


@pytest.mark.timeout(300)
async def test_bind_restarted_mid_flight_requests_complete_after_it_returns(
    stack_env: dict[str, str],
    database_url: str,
    engine: Engine,
    temporal_server: TemporalDevServer,
    tmp_path: Path,
) -> None:
    """Stop BIND with playbooks running and more requests coming, start it once an attempt has failed
    on it: the Ansible step retries (1 s, 2 s, 4 s, ... for 5 attempts) and every request ends
    COMPLETED and served, records made before the restart included (BIND's journal)."""
    tag = uuid.uuid4().hex[:6]
    account = f"acct-binddown-{tag}"
    first = submissions(account, f"binddown{tag}", 8)
    second = submissions(account, f"binddown{tag}", 4, start=8)
    with own_bind(tmp_path) as bind:
        async with fault_scenario(
            stack_env,
            tmp_path,
            session_key(stack_env, database_url),
            engine=engine,
            temporal_address=temporal_server.address,
            dns=bind,
            account=account,
            DNS_SERVER=bind.host,
            DNS_PORT=str(bind.port),
            DNS_ZONES="example.test",
            TSIG_KEY_FILE=str(bind.key_file),
        ) as scenario:
            await scenario.submit(first)
            await eventually(
                lambda: status_counts(engine, account),
                lambda counts: counts.get("COMPLETED", 0) >= 1,
                timeout=90,
                what="a first request completed",
            )
            async with scenario.outage(bind.stop, bind.start) as outage:
                await scenario.submit(second)
                # Down until an attempt has failed on it: then the outage met a playbook, and
                # what follows tests the retry.
                await eventually(
                    lambda: scenario.log("worker"),
                    lambda log: "DnsChangeFailed" in log,
                    timeout=90,
                    what="an attempt failed on the stopped BIND",
                )

            done = await scenario.settle(timeout=180)
            worker_log = scenario.log("worker")
            failed_attempts = worker_log.count("DnsChangeFailed")
            assert failed_attempts >= 1, "no playbook ran into the outage: nothing was tested"
            assert "DnsChangeRejected" not in worker_log
            print(
                f"\n[bind restart] down {outage.seconds:.1f}s; {failed_attempts} failed attempts "
                f"retried; {len(scenario.subs)} COMPLETED {done.at - outage.back_at:.0f}s after it came back "
                f"({done.at - scenario.started:.0f}s in all)"
            )
