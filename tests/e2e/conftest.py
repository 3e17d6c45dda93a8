"""The system as real processes: `dnsorch api` and `dnsorch worker` beside real servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from devstack.temporal import TemporalDevServer
from dnsorch.store import keys
from tests.fixtures.process_stack import ProcessStack
from tests.fixtures.servers import free_port


@pytest.fixture(scope="session")
def admin_key(engine: Engine) -> str:
    """An admin API key in the session's database."""
    return keys.create_key(engine, "acct-e2e-admin", "admin", "e2e-admin")[1]


@pytest.fixture(scope="session")
def stack_env(
    database_url: str,
    temporal_server: TemporalDevServer,
    bind_server: Any,
    admin_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    state = tmp_path_factory.mktemp("e2e-state")
    return {
        "DNSORCH_API_KEY": admin_key,  # read by ProcessStack and by `dnsorch requests`, not by the roles
        "API_RATE_PER_SECOND": "1000",  # tests send bursts; the limit itself is tested on its own API
        "API_RATE_BURST": "1000",
        "ENV": "test",
        "STATE_DIR": str(state),
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal_server.address,
        "TEMPORAL_TASK_QUEUE": "e2e",
        "DNS_SERVER": bind_server.host,
        "DNS_PORT": str(bind_server.port),
        "DNS_ZONES": ",".join(bind_server.zones),
        "TSIG_KEY_FILE": str(bind_server.key_file),
        "API_PORT": str(free_port()),
        "ANSIBLE_INITIAL_RETRY_SECONDS": "1",
        # The session's example.test is shared by every e2e test, and requests some tests leave
        # unfinished on purpose count as changes in flight: judging by zone share here made the
        # approval of an unrelated update depend on test order
        # (tests/unit/dnsorch/requests/test_approval.py covers it).
        "APPROVAL_ZONE_MIN_RECORD_SETS": "1000000",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="session")
def stack(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessStack]:
    """One API and one worker for the session's end-to-end tests."""
    processes = ProcessStack(stack_env, tmp_path_factory.mktemp("e2e-logs"))
    try:
        processes.start("worker")
        processes.start("api")
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def slow_stack(stack_env: dict[str, str], tmp_path: Path) -> Iterator[ProcessStack]:
    """An API and worker of their own whose playbook pauses first, so a test can act mid-step."""
    slow = {
        "TEMPORAL_TASK_QUEUE": f"e2e-slow-{tmp_path.name}",
        "API_PORT": str(free_port()),
        "PLAYBOOK_PATH": str(Path(__file__).resolve().parent.parent / "fixtures" / "slow_nsupdate.yml"),
        "ANSIBLE_HEARTBEAT_SECONDS": "3",
    }
    processes = ProcessStack({**stack_env, **slow}, tmp_path)
    try:
        processes.start("worker")
        processes.start("api")
        yield processes
    finally:
        processes.stop_all()
