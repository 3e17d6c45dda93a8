"""The test PostgreSQL on a machine that never ran it: no system user yet, several starters at once."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.fixtures.servers import free_port

# Each starter waits for the go file, so both reach "look up the user, else create it" together.
_STARTER = """
import sys, time
from pathlib import Path
from devstack.postgres import LocalPostgres

datadir, port, user, go = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
while not go.exists():
    time.sleep(0.001)
server = LocalPostgres(datadir, port=port, run_as=user)
server.start(database="dnsorch")
server.stop()
"""


@pytest.fixture
def new_system_user() -> str:
    """A user name this machine has never seen, removed again afterwards."""
    if os.geteuid() != 0:
        pytest.fail("PostgreSQL runs as a system user of its own only when the suite runs as root (CI does)")
    name = f"dnsorch_pg_{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["userdel", "--force", name], capture_output=True, check=False)


def test_two_processes_starting_postgres_at_once_both_succeed_with_no_system_user_yet(
    tmp_path: Path, new_system_user: str
) -> None:
    with pytest.raises(KeyError):
        pwd.getpwnam(new_system_user)
    go = tmp_path / "go"
    ports = {free_port()}
    while len(ports) < 2:  # two calls may be handed the same free port
        ports.add(free_port())
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    starters = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _STARTER,
                str(tmp_path / f"pg{i}"),
                str(port),
                new_system_user,
                str(go),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i, port in enumerate(sorted(ports))
    ]
    go.touch()
    outputs = [starter.communicate(timeout=180)[0] for starter in starters]
    assert [s.returncode for s in starters] == [0, 0], "\n---\n".join(outputs)
    entry = pwd.getpwnam(new_system_user)
    for i in range(2):
        assert (tmp_path / f"pg{i}").stat().st_uid == entry.pw_uid
