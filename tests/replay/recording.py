"""What the time-skipping recorders share: run each scenario on a fresh server with the stub
activities, and keep the workflow's history as JSON next to the others of its patch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from temporalio.testing import WorkflowEnvironment

from devstack.temporal import find_test_server
from dnsorch.temporal import ensure_search_attributes
from tests.fixtures.workflow_stubs import FakeStore, worker

Store = TypeVar("Store", bound=FakeStore)


async def record_all(
    directory: Path,
    scenarios: dict[str, Callable[[WorkflowEnvironment, Store], Awaitable[str]]],
    new_store: Callable[[], Store],
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, scenario in scenarios.items():
        env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=find_test_server())
        try:
            await ensure_search_attributes(env.client, "default")
            store = new_store()
            async with worker(env, store):
                workflow_id = await scenario(env, store)
            history = await env.client.get_workflow_handle(workflow_id).fetch_history()
            (directory / f"{name}.json").write_text(history.to_json())
            print(f"recorded {name}: {len(history.events)} events, ended {store.statuses()[-1]}")
        finally:
            await env.shutdown()
