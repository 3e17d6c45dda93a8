"""What operators see: search attributes in Temporal, and no TSIG secret anywhere it could leak."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client

from dnsorch.devstack.temporal import TemporalDevServer
from tests.e2e.conftest import ProcessStack

pytestmark = pytest.mark.e2e


def create(stack: ProcessStack, domain: str, target: str) -> str:
    body = {
        "context": {"account_id": "acct-visible", "source": "api"},
        "resource": {"record_type": "A", "domain": domain, "target": target},
    }
    response = stack.http.post("/api/v1/dns/create", json=body, timeout=10)
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
    found: list[str] = []
    for _ in range(50):  # visibility is eventually consistent
        found = [wf.id async for wf in client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.2)
    assert found == [f"dns-request-{request_id}"]
    description = await client.get_workflow_handle(found[0]).describe()
    assert description.workflow_type == "DnsProvisioningWorkflow"
    assert await description.static_summary() == "A findme.example.test → 192.0.2.31 (acct-visible)"


async def test_tsig_secret_is_in_no_history_row_log_or_leftover_file(
    stack: ProcessStack, temporal_server: TemporalDevServer, bind_server: Any, engine: Engine
) -> None:
    """Runs after the other e2e tests (file order), so their failed and killed runs are searched too."""
    request_id = create(stack, "secret-check.example.test", "192.0.2.32")
    await asyncio.to_thread(stack.wait_for_status, request_id, {"COMPLETED"})
    match = re.search(r'secret "([^"]+)"', Path(bind_server.key_file).read_text())
    assert match is not None
    secret = match.group(1)

    client = await Client.connect(temporal_server.address)
    histories = 0
    async for execution in client.list_workflows():
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        assert secret not in history.to_json()
        histories += 1
    assert histories > 0

    with engine.connect() as conn:
        for table in ("dns_requests", "dns_records"):
            dump = conn.execute(text(f"SELECT coalesce(json_agg(t)::text, '') FROM {table} t")).scalar_one()
            assert secret not in dump

    state_dir = Path(stack.env["STATE_DIR"])
    assert not any((state_dir / "ansible-runs").glob("*")), "ansible-runner left a run directory behind"
    for path in [*state_dir.rglob("*"), *stack.log_dir.rglob("*")]:
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"secret found in {path}"
