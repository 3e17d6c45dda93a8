"""What operators see: search attributes in Temporal, and no TSIG secret anywhere it could leak."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client

from devstack.temporal import TemporalDevServer
from dnsorch.store import keys
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.e2e


def body(domain: str, target: str) -> dict[str, Any]:
    return {
        "context": {"account_id": "acct-visible", "source": "api"},
        "resource": {"record_type": "A", "domain": domain, "target": target},
    }


def create(stack: ProcessStack, domain: str, target: str) -> str:
    response = stack.http.post("/api/v1/dns/create", json=body(domain, target), timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["request_id"])


async def test_operators_can_filter_workflows_by_domain_type_status_and_account(
    stack: ProcessStack, temporal_server: TemporalDevServer
) -> None:
    request_id = create(stack, "findme.example.test", "192.0.2.31")
    await asyncio.to_thread(stack.wait_for_status, request_id, {"COMPLETED"})
    client = await Client.connect(temporal_server.address)
    query = (
        'DnsDomain="findme.example.test" AND DnsRecordType="A" AND DnsStatus="COMPLETED" '
        'AND DnsAccount="acct-visible" AND DnsZone="example.test" AND DnsSource="api"'
    )

    async def matching() -> list[str]:
        return [wf.id async for wf in client.list_workflows(query)]

    found = await eventually(matching, timeout=10, what="the workflow found by its search attributes")
    assert found == [f"dns-request-{request_id}"]
    description = await client.get_workflow_handle(found[0]).describe()
    assert description.workflow_type == "DnsProvisioningWorkflow"
    assert await description.static_summary() == "A findme.example.test → 192.0.2.31 (acct-visible)"


async def test_no_secret_is_in_any_history_table_log_response_or_leftover_file(
    stack: ProcessStack, temporal_server: TemporalDevServer, bind_server: Any, engine: Engine
) -> None:
    """The TSIG secret and the API keys. Runs after the other e2e tests (file order), so their
    failed and killed runs are searched too."""
    submitter_key = keys.create_key(engine, "acct-visible", "submitter", "secrets-check")[1]
    with stack.client(submitter_key) as submitter:
        made = submitter.post("/api/v1/dns/create", json=body("secret-check.example.test", "192.0.2.32"))
        assert made.status_code == 200, made.text
        responses = [
            submitter.post("/api/v1/dns/create", json=body("bad name!.example.test", "192.0.2.33")),
            submitter.post("/api/v2/dns/requests/" + made.json()["request_id"] + "/actions/cancel"),
            submitter.get("/api/v2/dns/requests", params={"created_after": "not-a-date"}),
        ]
    with stack.client(submitter_key[:-1]) as forged:
        responses.append(forged.get("/api/v2/dns/requests"))
    assert [r.status_code for r in responses] == [422, 403, 422, 401]
    await asyncio.to_thread(stack.wait_for_status, made.json()["request_id"], {"COMPLETED"})

    match = re.search(r'secret "([^"]+)"', Path(bind_server.key_file).read_text())
    assert match is not None
    secrets = {
        "TSIG secret": match.group(1),
        "admin API key secret": (stack.api_key or "").split("_", 2)[2],
        "submitter API key secret": submitter_key.split("_", 2)[2],
    }
    assert all(len(value) >= 32 for value in secrets.values())

    def assert_absent(where: str, haystack: str | bytes) -> None:
        for name, value in secrets.items():
            needle = value.encode() if isinstance(haystack, bytes) else value
            assert needle not in haystack, f"{name} found in {where}"

    for response in responses:
        assert_absent(f"a {response.status_code} response", response.text)

    client = await Client.connect(temporal_server.address)
    histories = 0
    async for execution in client.list_workflows():
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        assert_absent(f"the history of {execution.id}", history.to_json())
        histories += 1
    assert histories > 0

    with engine.connect() as conn:
        tables = (
            conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        )
        assert {"dns_requests", "dns_records", "api_keys", "request_events", "dead_letters"} <= set(tables)
        for table in tables:
            dump = conn.execute(
                text(f"SELECT coalesce(json_agg(t)::text, '') FROM \"{table}\" t")
            ).scalar_one()
            assert_absent(f"table {table}", dump)

    state_dir = Path(stack.env["STATE_DIR"])
    assert not any((state_dir / "ansible-runs").glob("*")), "ansible-runner left a run directory behind"
    for path in [*state_dir.rglob("*"), *stack.log_dir.rglob("*")]:
        if path.is_file():
            assert_absent(str(path), path.read_bytes())
