"""WORKER_PLAYBOOK_WARM against a real BIND9: runs forked from the warm server apply and fail as
cold ones do, and a cancelled run, a signalled launcher or a dead server leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.ansible import AnsibleActivities
from dnsorch.contracts import DnsChange
from dnsorch.settings import Settings
from tests.fixtures.bind import TEST_ZONE, BindInfo, bind_settings
from tests.fixtures.dns import served
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PLAYBOOK = Path(__file__).resolve().parents[2] / "playbooks" / "nsupdate_batch.yml"


def change(label: str, address: str) -> DnsChange:
    return DnsChange(
        request_id=f"req-{uuid.uuid4().hex[:12]}",
        operation="create",
        record_type="A",
        domain=f"{label}-{uuid.uuid4().hex[:8]}.{TEST_ZONE}",
        zone=TEST_ZONE,
        values=[address],
        ttl=300,
    )


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    """A playbook path the test can point at the slow playbook or the real one (a symlink)."""
    link = tmp_path / "playbook.yml"
    link.symlink_to(FIXTURES / "sleep_30s.yml")
    return link


@pytest.fixture
def warm(bind_server: BindInfo, tmp_path: Path, playbook: Path) -> AnsibleActivities:
    settings = bind_settings(
        bind_server,
        tmp_path / "state",
        worker_playbook_warm=True,
        playbook_path=playbook,
        ansible_heartbeat_seconds=3,
    )
    return AnsibleActivities(settings, keep_run_dirs=True)


def point(link: Path, target: Path) -> None:
    link.unlink()
    link.symlink_to(target)


def descendants(root: int) -> dict[int, str]:
    """pid → command line of every live process below `root`."""
    procs: dict[int, tuple[int, str, str]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                state, ppid = (proc / "stat").read_text().rsplit(")", 1)[1].split()[:2]
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            procs[int(proc.name)] = (int(ppid), state, cmd)
    below = {root}
    while grown := {pid for pid, (ppid, _, _) in procs.items() if ppid in below} - below:
        below |= grown
    return {pid: procs[pid][2] for pid in below - {root} if procs[pid][1] != "Z"}


def launchers() -> dict[int, str]:
    """The warm launchers (our ansible-runner's children) running now."""
    return {pid: cmd for pid, cmd in descendants(os.getpid()).items() if "/ansible-playbook " in cmd}


async def sleeping(activities: AnsibleActivities, task: asyncio.Task[object]) -> int:
    """Wait until the warm run sleeps; the server's pid."""

    def observe() -> dict[int, str]:
        assert not task.done(), f"the activity ended before its playbook slept: {task}"
        pid = activities._warm.pid() if activities._warm else None
        return descendants(pid) if pid else {}

    await eventually(
        observe,
        lambda below: any(cmd.startswith("sleep 30") for cmd in below.values()),
        timeout=30,
        what="the warm playbook sleeping",
    )
    server = activities._warm.pid() if activities._warm else None
    assert server
    return server


def start(activities: AnsibleActivities, env: ActivityEnvironment) -> asyncio.Task[object]:
    return asyncio.create_task(env.run(activities.apply_dns_change, change("slow", "192.0.2.90")))


async def test_a_batch_applied_warm_is_served_and_ran_through_the_server(
    warm: AnsibleActivities, bind_server: BindInfo, playbook: Path
) -> None:
    point(playbook, PLAYBOOK)
    first, second = change("warm", "192.0.2.91"), change("again", "192.0.2.92")

    results = [await ActivityEnvironment().run(warm.apply_dns_change, c) for c in (first, second)]

    assert [r.served for r in results] == [["192.0.2.91"], ["192.0.2.92"]]
    assert served(bind_server, first.domain, "A") == ["192.0.2.91"]
    assert served(bind_server, second.domain, "A") == ["192.0.2.92"]
    runs = list((warm._settings.state_dir / "ansible-runs").iterdir())
    commands = [json.loads((run / "artifacts" / "run" / "command").read_text()) for run in runs]
    assert len(commands) == 2
    for command in commands:  # the launcher stood in for ansible-playbook, playbook first
        launcher = command["command"][0]
        assert launcher.endswith("/ansible-playbook") and "dnsorch-warm-" in launcher
        assert command["command"][1] == str(PLAYBOOK)
    assert warm._warm is not None and warm._warm.pid()
    warm._warm.close()


async def test_concurrent_warm_runs_each_apply_their_own_batch(bind_server: BindInfo, tmp_path: Path) -> None:
    settings = bind_settings(bind_server, tmp_path / "state", worker_playbook_warm=True, batch_max_changes=1)
    activities = AnsibleActivities(settings, keep_run_dirs=True)
    changes = [change(f"pair{i}", f"192.0.2.{100 + i}") for i in range(4)]

    results = await asyncio.gather(
        *(ActivityEnvironment().run(activities.apply_dns_change, c) for c in changes)
    )

    assert [r.served for r in results] == [c.values for c in changes]
    for c in changes:
        assert served(bind_server, c.domain, "A") == c.values
    assert len(list((settings.state_dir / "ansible-runs").iterdir())) == 4
    activities.close()


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
async def test_a_playbook_that_pauses_applies_warm_as_it_does_cold(
    bind_server: BindInfo, tmp_path: Path, warm: bool
) -> None:
    """`pause` needs the run's stdin to be its controlling terminal, as ansible-runner's pty is cold."""
    settings = bind_settings(
        bind_server,
        tmp_path / "state",
        worker_playbook_warm=warm,
        playbook_path=FIXTURES / "pause_nsupdate.yml",
    )
    activities = AnsibleActivities(settings)
    paused = change("paused", "192.0.2.95")

    result = await ActivityEnvironment().run(activities.apply_dns_change, paused)

    assert result.served == ["192.0.2.95"]
    activities.close()


async def test_cancel_kills_the_running_warm_playbook(warm: AnsibleActivities) -> None:
    env = ActivityEnvironment()
    task = start(warm, env)
    server = await sleeping(warm, task)
    run = descendants(server)

    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)

    await eventually(
        lambda: descendants(server), lambda below: below == {}, timeout=5, what="the run's processes gone"
    )
    assert not set(run) & set(descendants(1))  # none escaped to init either
    assert launchers() == {}
    assert warm._warm is not None and warm._warm.pid() == server  # the server lives on
    warm._warm.close()


async def test_sigterm_to_the_launcher_reaches_the_run(warm: AnsibleActivities) -> None:
    task = start(warm, ActivityEnvironment())
    server = await sleeping(warm, task)
    run = descendants(server)
    (launcher,) = launchers()

    os.kill(launcher, signal.SIGTERM)

    with pytest.raises(ApplicationError) as caught:
        await asyncio.wait_for(task, timeout=20)
    assert caught.value.type == "DnsChangeFailed" and not caught.value.non_retryable
    assert descendants(server) == {}
    assert not set(run) & set(descendants(1))
    assert warm._warm is not None
    warm._warm.close()


async def test_a_server_killed_mid_run_fails_that_run_and_the_next_run_works(
    warm: AnsibleActivities, bind_server: BindInfo, playbook: Path
) -> None:
    task = start(warm, ActivityEnvironment())
    server = await sleeping(warm, task)
    run = descendants(server)

    os.kill(server, signal.SIGKILL)

    with pytest.raises(ApplicationError) as caught:
        await asyncio.wait_for(task, timeout=20)
    assert caught.value.type == "DnsChangeFailed" and not caught.value.non_retryable
    assert "warm playbook server stopped" in caught.value.message
    await eventually(
        lambda: {pid for pid in run if Path(f"/proc/{pid}").exists()},
        lambda alive: alive == set(),
        timeout=5,
        what="the killed server's run gone",
    )

    point(playbook, PLAYBOOK)
    after = change("after", "192.0.2.93")
    result = await ActivityEnvironment().run(warm.apply_dns_change, after)

    assert result.served == ["192.0.2.93"]
    assert served(bind_server, after.domain, "A") == ["192.0.2.93"]
    assert warm._warm is not None and warm._warm.pid() not in (None, server)
    warm._warm.close()


def test_the_setting_is_on_by_default(tmp_path: Path) -> None:
    assert Settings(env="test", state_dir=tmp_path).worker_playbook_warm is True


async def test_false_in_the_environment_runs_ansible_playbook_cold(
    bind_server: BindInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_PLAYBOOK_WARM", "false")
    settings = Settings(
        env="test",
        dns_server=bind_server.host,
        dns_port=bind_server.port,
        tsig_key_file=bind_server.key_file,
        dns_zones=list(bind_server.zones),
        state_dir=tmp_path / "state",
    )
    activities = AnsibleActivities(settings, keep_run_dirs=True)
    cold = change("cold", "192.0.2.94")

    result = await ActivityEnvironment().run(activities.apply_dns_change, cold)

    assert result.served == ["192.0.2.94"]
    assert activities._warm is None
    (run,) = (settings.state_dir / "ansible-runs").iterdir()
    command = json.loads((run / "artifacts" / "run" / "command").read_text())["command"]
    assert command[0] == "ansible-playbook"  # found on PATH, not the warm launcher
    assert not any("dnsorch-warm-" in part for part in command)
