"""The warm playbook server without a DNS server: each run reads its own environment, cwd and
configuration, its exit code comes back, and without a server the launcher runs cold."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities import warm_playbook
from activities.warm_playbook import WarmPlaybook, WarmRun
from tests.fixtures.waiting import eventually_sync


@pytest.fixture
def warm() -> Iterator[WarmPlaybook]:
    server = WarmPlaybook()
    yield server
    server.close()


def launch(run: WarmRun | None, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    launcher = run.launcher if run else None
    assert launcher is not None
    environ = {**os.environ, **(run.env if run else {}), **env}
    environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + environ.get("PATH", "")
    return subprocess.run(
        [str(launcher), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60
    )


def test_each_run_reads_its_own_configuration_and_cwd(warm: WarmPlaybook, tmp_path: Path) -> None:
    run = warm.prepare()
    seen = []
    for name in ("one", "two"):
        cwd = tmp_path / name
        cwd.mkdir()
        (cwd / "ansible.cfg").write_text("[defaults]\n")
        done = launch(run, cwd, "--version", ANSIBLE_CONFIG=str(cwd / "ansible.cfg"))
        assert done.returncode == 0, done.stderr
        seen.append(done.stdout)

    assert f"config file = {tmp_path / 'one' / 'ansible.cfg'}" in seen[0]
    assert f"config file = {tmp_path / 'two' / 'ansible.cfg'}" in seen[1]


def test_a_failing_run_exits_as_ansible_playbook_does(warm: WarmPlaybook, tmp_path: Path) -> None:
    done = launch(warm.prepare(), tmp_path, str(tmp_path / "absent.yml"))

    assert done.returncode == 1
    assert "could not be found" in done.stdout + done.stderr


def test_a_dead_server_is_replaced_and_the_launcher_alone_runs_cold(
    warm: WarmPlaybook, tmp_path: Path
) -> None:
    first = warm.prepare()
    pid = warm.pid()
    assert first is not None and pid is not None
    os.kill(pid, signal.SIGKILL)
    eventually_sync(  # a zombie until WarmPlaybook, its parent, looks at it again
        lambda: Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0],
        lambda state: state == "Z",
        timeout=10,
        what="the killed server exited",
    )

    again = warm.prepare()
    assert again is not None and warm.pid() not in (None, pid)
    assert launch(again, tmp_path, "--version").returncode == 0

    # No server behind the socket: the launcher says so and starts ansible-playbook cold.
    cold = launch(again, tmp_path, "--version", DNSORCH_WARM_SOCKET=str(tmp_path / "none"))
    assert cold.returncode == 0 and "ansible-playbook [core" in cold.stdout
    assert "running ansible-playbook cold" in cold.stderr


def test_runs_in_flight_end_with_the_server(warm: WarmPlaybook, tmp_path: Path) -> None:
    """The worker exiting closes the server's pipe (as close() does): no run outlives it."""
    run = warm.prepare()
    server = warm.pid()
    assert run is not None and server is not None
    environ = {**os.environ, **run.env, "ANSIBLE_LOCALHOST_WARNING": "0"}
    environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + environ.get("PATH", "")
    playbook = Path(__file__).resolve().parents[2] / "fixtures" / "sleep_30s.yml"
    launcher = subprocess.Popen(
        [str(run.launcher), "-i", "localhost,", str(playbook)],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    below = eventually_sync(
        lambda: children_of(server),
        lambda pids: any(b"sleep\0" in cmdline(pid) for pid in pids),
        timeout=30,
        what="the run sleeping",
    )

    warm.close()

    assert launcher.wait(timeout=10) == 1
    assert launcher.stderr is not None
    assert "stopped during the run" in launcher.stderr.read()
    eventually_sync(
        lambda: {pid for pid in below if Path(f"/proc/{pid}").exists()},
        lambda alive: alive == set(),
        timeout=5,
        what="the run's processes gone",
    )


def test_a_server_that_cannot_start_leaves_runs_cold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = Path(warm_playbook.__file__).parent
    (tmp_path / "warm_client.py").write_text((here / "warm_client.py").read_text())
    (tmp_path / "warm_zygote.py").write_text("raise SystemExit('broken')\n")
    monkeypatch.setattr(warm_playbook, "_HERE", tmp_path)
    broken = WarmPlaybook()

    assert broken.prepare() is None
    (tmp_path / "warm_zygote.py").write_text((here / "warm_zygote.py").read_text())
    assert broken.prepare() is None  # not tried again at once: each try costs a start
    broken.close()


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def children_of(root: int) -> set[int]:
    """Every process below `root`, from /proc."""
    parents = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
    below = {root}
    while grown := {pid for pid, ppid in parents.items() if ppid in below} - below:
        below |= grown
    return below - {root}
