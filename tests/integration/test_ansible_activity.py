"""The Ansible activity against a real BIND9: served records, rejections, safety, cancel."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import time
import uuid
from pathlib import Path

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.ansible import AnsibleActivities
from activities.dns_check import query_rrset
from devstack.bind import ensure_tsig_key
from dnsorch.contracts import ApplyResult, DnsChange
from dnsorch.dns import rdata_values
from dnsorch.settings import Settings
from tests.fixtures.bind import TEST_ZONE, BindInfo, bind_settings
from tests.fixtures.dns import served
from tests.fixtures.servers import free_port
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def change(
    domain: str, record_type: str, values: list[str], operation: str = "create", ttl: int = 300
) -> DnsChange:
    return DnsChange(
        request_id=f"req-{uuid.uuid4().hex[:12]}",
        operation=operation,
        record_type=record_type,
        domain=domain,
        zone=TEST_ZONE,
        values=values,
        ttl=ttl,
    )


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}.{TEST_ZONE}"


@pytest.fixture(params=["cold", "warm"])
def dns_settings(request: pytest.FixtureRequest, bind_server: BindInfo, tmp_path: Path) -> Settings:
    """Each apply test twice: ansible-playbook started cold, and forked from the warm server."""
    warm = request.param == "warm"
    return bind_settings(bind_server, tmp_path / "state", worker_playbook_warm=warm)


async def apply(settings: Settings, dns_change: DnsChange, **kwargs: bool) -> ApplyResult:
    activities = AnsibleActivities(settings, **kwargs)
    try:
        return await ActivityEnvironment().run(activities.apply_dns_change, dns_change)
    finally:
        activities.close()


def secret_of(key_file: Path) -> str:
    match = re.search(r'secret\s+"([^"]+)"', key_file.read_text())
    assert match
    return match.group(1)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_record_is_served_after_apply(dns_settings: Settings, bind_server: BindInfo) -> None:
    name = unique("www")
    started = time.monotonic()
    result = await apply(dns_settings, change(name, "A", ["192.0.2.10"]))
    print(f"one apply_dns_change (playbook + verify): {time.monotonic() - started:.2f}s")

    assert (result.served, result.changed) == (["192.0.2.10"], True)
    assert await query_rrset(bind_server.host, bind_server.port, name, "A") == ["192.0.2.10"]
    assert served(bind_server, name, "A") == ["192.0.2.10"]


async def test_applying_the_same_change_twice_is_harmless(
    dns_settings: Settings, bind_server: BindInfo
) -> None:
    dns_change = change(unique("twice"), "A", ["192.0.2.20"])
    first = await apply(dns_settings, dns_change)
    second = await apply(dns_settings, dns_change)

    # The UPDATE replaces the whole RRset, so sending it again leaves the same answer.
    assert first.served == second.served == ["192.0.2.20"]
    assert served(bind_server, dns_change.domain, "A") == ["192.0.2.20"]


async def test_update_replaces_the_rrset(dns_settings: Settings, bind_server: BindInfo) -> None:
    name = unique("moved")
    await apply(dns_settings, change(name, "A", ["192.0.2.30"]))
    result = await apply(dns_settings, change(name, "A", ["192.0.2.31"], operation="update"))

    assert result.served == ["192.0.2.31"]
    assert served(bind_server, name, "A") == ["192.0.2.31"]


async def test_wrong_tsig_key_is_rejected_for_good(
    dns_settings: Settings, bind_server: BindInfo, tmp_path: Path
) -> None:
    # Same key name, different secret: BIND knows the name, so the signature is what fails.
    wrong_key = tmp_path / "wrong.key"
    ensure_tsig_key(wrong_key, "dnsorch-key")
    assert secret_of(wrong_key) != secret_of(bind_server.key_file)
    wrong = dns_settings.model_copy(update={"tsig_key_file": wrong_key})
    name = unique("badkey")

    with pytest.raises(ApplicationError) as caught:
        await apply(wrong, change(name, "A", ["192.0.2.40"]))

    assert caught.value.type == "DnsChangeRejected"
    assert caught.value.non_retryable
    assert "PeerBadSignature" in caught.value.message
    assert secret_of(wrong_key) not in caught.value.message
    assert served(bind_server, name, "A") == []


async def test_missing_key_file_and_playbook_are_rejected(dns_settings: Settings, tmp_path: Path) -> None:
    for broken in (
        dns_settings.model_copy(update={"tsig_key_file": tmp_path / "absent.key"}),
        dns_settings.model_copy(update={"playbook_path": tmp_path / "absent.yml"}),
    ):
        with pytest.raises(ApplicationError) as caught:
            await apply(broken, change(unique("nokey"), "A", ["192.0.2.41"]))
        assert caught.value.type == "DnsChangeRejected" and caught.value.non_retryable


async def test_server_down_is_retryable(dns_settings: Settings) -> None:
    down = dns_settings.model_copy(update={"dns_port": free_port()})

    with pytest.raises(ApplicationError) as caught:
        await apply(down, change(unique("down"), "A", ["192.0.2.42"]))

    assert caught.value.type == "DnsChangeFailed"
    assert not caught.value.non_retryable
    assert "Connection refused" in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        "{{ lookup('pipe','id') }}",
        "{% raw %}x",
        '#{# comment #} "quoted", back\\slash, é and ${HOME}',
        "long " + "x" * 300,  # more than one 255-byte character-string
    ],
)
async def test_txt_values_are_served_literally(
    dns_settings: Settings, bind_server: BindInfo, text: str
) -> None:
    name = unique("txt")
    values = rdata_values("TXT", text, None, {})

    result = await apply(dns_settings, change(name, "TXT", values))

    answer = await query_rrset(bind_server.host, bind_server.port, name, "TXT")
    assert len(answer) == 1 and result.served == answer
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, answer[0])
    assert isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
    assert b"".join(rdata.strings) == text.encode()  # exact bytes: nothing was templated
    assert "uid=" not in " ".join(served(bind_server, name, "TXT"))


@pytest.mark.parametrize(
    ("record_type", "label", "target", "priority", "extra", "expected"),
    [
        ("AAAA", "v6", "2001:db8::10", None, {}, "2001:db8::10"),
        ("CNAME", "alias", "www.example.net", None, {}, "www.example.net."),
        ("MX", "mx", "mail.example.test", 10, {}, "10 mail.example.test."),
        ("SRV", "_sip._tcp", "sip.example.test", 10, {"port": 5060, "weight": 5},
         "10 5 5060 sip.example.test."),
    ],
)  # fmt: skip
async def test_other_record_types_are_served(
    dns_settings: Settings,
    bind_server: BindInfo,
    record_type: str,
    label: str,
    target: str,
    priority: int | None,
    extra: dict[str, object],
    expected: str,
) -> None:
    if target.endswith(TEST_ZONE):  # BIND refuses MX/SRV to in-zone names without an address
        await apply(dns_settings, change(target, "A", ["192.0.2.50"]))
    name = unique(label) if record_type != "SRV" else f"{label}.{unique('svc')}"
    values = rdata_values(record_type, target, priority, extra)
    assert values == [expected]

    result = await apply(dns_settings, change(name, record_type, values))

    assert result.served == [expected]
    assert served(bind_server, name, record_type) == [expected]


async def test_mx_to_in_zone_name_without_address_is_rejected(dns_settings: Settings) -> None:
    values = rdata_values("MX", unique("nomail"), 10, {})

    with pytest.raises(ApplicationError) as caught:
        await apply(dns_settings, change(unique("mx"), "MX", values))

    assert caught.value.type == "DnsChangeRejected"
    assert "REFUSED" in caught.value.message


async def test_delete_removes_the_record(dns_settings: Settings, bind_server: BindInfo) -> None:
    name = unique("gone")
    await apply(dns_settings, change(name, "A", ["192.0.2.60"]))
    assert served(bind_server, name, "A") == ["192.0.2.60"]

    deleted = await apply(dns_settings, change(name, "A", ["192.0.2.60"], operation="delete"))
    again = await apply(dns_settings, change(name, "A", ["192.0.2.60"], operation="delete"))

    assert deleted.served == again.served == []  # deleting what is gone is harmless
    assert served(bind_server, name, "A") == []


async def test_runs_leave_no_files_and_never_write_the_secret(
    dns_settings: Settings, bind_server: BindInfo
) -> None:
    secret = secret_of(bind_server.key_file)
    needles = [secret.encode(), base64.b64decode(secret)]
    runs_dir = dns_settings.state_dir / "ansible-runs"

    # A kept run directory shows what ansible-runner writes: none of it may hold the secret.
    await apply(dns_settings, change(unique("audit"), "A", ["192.0.2.70"]), keep_run_dirs=True)
    kept = files_under(runs_dir)
    assert any(p.name == "payload.json" for p in kept)
    assert any(p.parent.name == "job_events" for p in kept)
    for path in kept:
        assert not any(n in path.read_bytes() for n in needles), path

    for child in runs_dir.iterdir():
        shutil.rmtree(child)
    await apply(dns_settings, change(unique("clean"), "A", ["192.0.2.71"]))
    with pytest.raises(ApplicationError):
        await apply(dns_settings, change(unique("bad"), "MX", rdata_values("MX", unique("x"), 1, {})))

    assert list(runs_dir.iterdir()) == []
    for path in files_under(dns_settings.state_dir):
        assert not any(n in path.read_bytes() for n in needles), path


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid → (parent pid, state, command line) for every process we can see."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        found[int(proc.name)] = (int(ppid), state, cmdline)
    return found


def _run_processes(marker: str) -> set[int]:
    """ansible-playbook processes whose command line names `marker`, and all descendants."""
    procs = _processes()
    pids = {pid for pid, (_, _, cmd) in procs.items() if "ansible-playbook" in cmd and marker in cmd}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _, _) in procs.items() if ppid in pids} - pids
        grew = bool(children)
        pids |= children
    return pids


def _alive(pids: set[int]) -> set[int]:
    procs = _processes()
    return {pid for pid in pids if pid in procs and procs[pid][1] != "Z"}


async def test_cancel_kills_the_running_playbook(bind_server: BindInfo, tmp_path: Path) -> None:
    """The cold path, whose processes name their run dir; test_warm_playbook.py covers warm runs."""
    settings = bind_settings(
        bind_server,
        tmp_path / "state",
        playbook_path=FIXTURES / "sleep_30s.yml",
        ansible_heartbeat_seconds=3,
        worker_playbook_warm=False,
    )
    dns_change = change(unique("slow"), "A", ["192.0.2.80"])
    # A batch of this one change: its run dir is named after the worker, the zone and the size.
    marker = str(settings.state_dir / "ansible-runs" / f"w{os.getpid()}-{TEST_ZONE}-n1-")
    env = ActivityEnvironment()
    heartbeats: list[object] = []
    env.on_heartbeat = lambda *details: heartbeats.append(details)
    task = asyncio.create_task(env.run(AnsibleActivities(settings).apply_dns_change, dns_change))

    def run_processes() -> set[int]:
        assert not task.done(), "the activity ended before its playbook slept"
        return _run_processes(marker)

    pids = await eventually(
        run_processes,
        lambda pids: any("sleep 30" in _processes().get(p, (0, "", ""))[2] for p in pids),
        timeout=30,
        what="the slow playbook sleeping",
    )
    await eventually(lambda: list(heartbeats), timeout=10, interval=0.1, what="a heartbeat")

    cancelled_at = time.monotonic()
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
    took = time.monotonic() - cancelled_at

    assert took < 5, f"cancellation took {took:.1f}s"
    assert heartbeats
    await eventually(  # SIGKILL was sent; give the kernel a moment
        lambda: _alive(pids),
        lambda alive: alive == set(),
        timeout=3,
        interval=0.1,
        what="ansible-playbook and its children gone with the activity",
    )
    assert _run_processes(marker) == set()
    assert list((settings.state_dir / "ansible-runs").iterdir()) == []
