"""Fixtures for workflow tests in Temporal's time-skipping test server (a real binary, offline)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from devstack.temporal import find_test_server
from dnsorch.temporal import ensure_search_attributes


async def _start_env() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=find_test_server())
    # Without them the test server does not fail: the workflow hangs. Register first.
    await ensure_search_attributes(env.client, "default")
    return env


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await _start_env()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture
async def own_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A server of its own, for tests that skip days: nothing else's timers or activities in the way."""
    env = await _start_env()
    try:
        yield env
    finally:
        await env.shutdown()
