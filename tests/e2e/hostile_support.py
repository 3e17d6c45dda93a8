"""What the hostile-input tests share: the hostile values, request bodies, and an API + worker of their own.

Every test_hostile_input*.py module starts its own API and worker (as processes, beside the session's
PostgreSQL, Temporal and BIND) on its own task queue, with an approval gate on the test zone:
requests wait in PENDING_APPROVAL, so storing a hostile value costs no playbook run.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from tests.e2e.conftest import ProcessStack, answer_of
from tests.fixtures.servers import free_port
from tests.fixtures.waiting import eventually_sync

HOSTILE: dict[str, str] = {
    "jinja-lookup": "{{ lookup('pipe','id') }}",
    "jinja-block": "{% raw %}x{% endraw %}",
    "shell-subst": "$(id)",
    "backticks": "`id`",
    "shell-chain": "; rm -rf /",
    "sql": "' OR 1=1 --",
    "quotes-backslash": '"q" \\ \\"',
    "newline": "a\nb",
    "cr": "a\rb",
    "nul": "a\u0000b",
    "escape": "a\u001b[31mb",
    "bell-del": "a\u0007\u007fb",
    "tab": "a\tb",
    "unicode-separators": "a\u2028b\u202ec",
    "emoji": "ünïcødé 🚀 名前",
    "lone-surrogate": "a\ud800b",  # JSON allows the escape \ud800; it is not a Unicode character
    # Longer than any field allows, yet well under the API's body limit (a 413 would test that limit).
    "10kb": "x" * 10_000,
}

ACCOUNT = "acct-hostile"
# Where a hostile value goes in a create body, and how the API names the field when it refuses it.
CREATE_FIELDS = {
    "context.account_id": "context.account_id",
    "context.source": "context.source",
    "resource.record_type": "resource.record_type",
    "resource.domain": "resource.domain",
    "resource.target": "resource.target",
    "resource.comment": "resource.comment",
    "extra_config value": "resource.config.extra_config",
    "extra_config key": "resource.config.extra_config",
}


@contextmanager
def hostile_processes(stack_env: dict[str, str], log_dir: Path, *roles: str) -> Iterator[ProcessStack]:
    """`roles` as processes on a task queue of their own, every request waiting for approval; on exit,
    the requests they left waiting are terminated."""
    queue = f"hostile-{uuid.uuid4().hex[:8]}"
    env = {
        **stack_env,
        "TEMPORAL_TASK_QUEUE": queue,
        "API_PORT": str(free_port()),
        "APPROVAL_ZONES": "example.test",
        "WORKER_METRICS_PORT": "0",
        "CONSUMER_METRICS_PORT": "0",
    }
    processes = ProcessStack(env, log_dir)
    try:
        for role in roles:
            processes.start(role)
        yield processes
    finally:
        processes.stop_all()
        asyncio.run(_terminate_open_workflows(env["TEMPORAL_ADDRESS"], queue))


async def _terminate_open_workflows(address: str, queue: str) -> None:
    client = await Client.connect(address)
    query = f'TaskQueue="{queue}" AND ExecutionStatus="Running"'
    handles = [client.get_workflow_handle(execution.id) async for execution in client.list_workflows(query)]
    # return_exceptions: one that finished meanwhile is fine.
    await asyncio.gather(
        *(h.terminate("hostile-input test finished") for h in handles), return_exceptions=True
    )


def post_json(
    stack: ProcessStack, path: str, document: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Raw JSON bytes: json.dumps escapes non-ASCII, so a lone surrogate travels as `\\ud800`."""
    raw = json.dumps(document).encode()
    return stack.http.post(path, content=raw, headers={"content-type": "application/json", **(headers or {})})


def create_body(domain: str, target: str = "ok", **extra: Any) -> dict[str, Any]:
    return {
        "context": {"account_id": ACCOUNT, "source": "api"},
        "resource": {"record_type": "TXT", "domain": domain, "target": target, "comment": "hostile", **extra},
    }


def unique_domain(tag: str) -> str:
    return f"h-{tag}-{uuid.uuid4().hex[:8]}.example.test"


def place(body: dict[str, Any], field: str, value: str) -> None:
    if field == "extra_config value":
        body["resource"]["config"] = {"extra_config": {"note": value}}
    elif field == "extra_config key":
        body["resource"]["config"] = {"extra_config": {value: "v"}}
    else:
        section, name = field.split(".")
        body[section][name] = value


def assert_error_shape(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str)
    assert isinstance(error["details"], list)
    return dict(error)


def refused_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text[:500]
    return [str(detail["field"]) for detail in assert_error_shape(response)["details"]]


def assert_refused_naming(response: httpx.Response, field: str) -> None:
    fields = refused_fields(response)
    assert any(f == field or f.startswith(field + ".") for f in fields), (field, fields)


def assert_no_5xx(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"


def detail_of(stack: ProcessStack, request_id: str) -> dict[str, Any]:
    response = stack.http.get(f"/api/v2/dns/requests/{request_id}", timeout=10)
    assert response.status_code == 200, response.text[:300]
    return dict(response.json())


def wait_v2(stack: ProcessStack, request_id: str, wanted: set[str], timeout: float = 90) -> dict[str, Any]:
    """The v2 detail of the request once its status is one of `wanted`."""
    seen = eventually_sync(
        lambda: answer_of(stack.http.get(f"/api/v2/dns/requests/{request_id}", timeout=10)),
        lambda seen: seen.code == 200 and seen.body["status"] in wanted,
        timeout=timeout,
        what=f"{request_id} in {sorted(wanted)}",
    )
    return dict(seen.body)


def waiting_request(stack: ProcessStack) -> str:
    """A request waiting in PENDING_APPROVAL, ready for an operator's action."""
    response = post_json(stack, "/api/v1/dns/create", create_body(unique_domain("wait")))
    assert response.status_code == 200, response.text
    request_id = str(response.json()["request_id"])
    wait_v2(stack, request_id, {"PENDING_APPROVAL"})
    return request_id


def field_params(fields: list[str], values: list[str] | None = None) -> list[Any]:
    """Every (field, hostile value name) pair."""
    return [pytest.param(field, name, id=f"{field}-{name}") for field in fields for name in values or HOSTILE]
