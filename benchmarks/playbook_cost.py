"""CPU-seconds of one apply playbook run, on a real BIND: `make bench-playbook`.

Runs the worker's own batch path (AnsibleActivities._run_batch: payload file, ansible-runner,
ansible-playbook with playbooks/nsupdate_batch.yml, results, clean-up) N times each with 0, 1 and
20 changes, and prints the median CPU per run: the ansible-playbook process tree (its reaped
children, from getrusage(RUSAGE_CHILDREN)) and the worker-side Python (this process: the runner's
loop, file writes, reading events). CPU time, not wall time, is what a shared machine keeps steady.

`--mode warm` runs the same batches with WORKER_PLAYBOOK_WARM on (activities/warm_playbook.py):
the playbook tree is then the launcher (a child of this process) plus the fork server's run
leaders and runs, read from the server's own and reaped children's CPU in /proc. `--mode both`
(the default) measures both, interleaved, and prints the warm/cold ratios.

`--warm` adds what an empty run would cost if ansible-playbook did not start cold: the kept empty
run's exact command and environment, replayed by a forked child of a process that imported Ansible
once ("pre-imported": only modules that read no Ansible configuration; "warm": Ansible's CLI with
its configuration and plugin routing loaded, valid here only because every replay is the same run).
A measurement of the start-up's share, not a mode the worker has.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.ansible import AnsibleActivities
from activities.batching import Batch
from devstack.bind import BindServer
from devstack.ports import free_port
from dnsorch.contracts import DnsChange
from dnsorch.settings import Settings

ZONE = "bench.test"
SIZES = (0, 1, 20)
PRE_IMPORTED = (  # what ansible-playbook imports that reads no Ansible configuration
    "yaml",
    "jinja2.nativetypes",
    "multiprocessing.queues",
    "cryptography.hazmat.backends.openssl",
    "ansible.module_utils.basic",
)
WARM = ("ansible.cli.playbook", "ansible.executor.process.worker", "ansible.plugins.strategy.linear")


@dataclass
class Sample:
    children: float
    worker: float
    wall: float

    @property
    def total(self) -> float:
        return self.children + self.worker


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def batch_of(size: int) -> Batch:
    tag = uuid.uuid4().hex[:10]
    changes = [
        DnsChange(
            request_id=f"bench-{tag}-{i}",
            operation="create",
            record_type="A",
            domain=f"h{i}-{tag}.{ZONE}",
            zone=ZONE,
            values=[f"198.51.100.{i % 250 + 1}"],
            ttl=300,
        )
        for i in range(size)
    ]
    return Batch(zone=ZONE, changes=changes, reason="size")


def server_cpu(activities: AnsibleActivities) -> float:
    """CPU of the warm fork server and its reaped children (run leaders, runs); 0 when cold."""
    pid = activities._warm.pid() if activities._warm is not None else None
    if pid is None:
        return 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    deadline = time.monotonic() + 10
    while children.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.01)  # the run's leader is still exiting: its CPU is counted once reaped
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


async def one_run(activities: AnsibleActivities, size: int) -> Sample:
    batch = batch_of(size)
    server = server_cpu(activities)
    before = cpu(resource.RUSAGE_CHILDREN), cpu(resource.RUSAGE_SELF), time.monotonic()
    outcomes = await ActivityEnvironment().run(activities._run_batch, batch)
    after = cpu(resource.RUSAGE_CHILDREN), cpu(resource.RUSAGE_SELF), time.monotonic()
    server = server_cpu(activities) - server
    bad = {rid: o for rid, o in outcomes.items() if o.status != "applied"}
    if bad:
        raise SystemExit(f"a run with {size} change(s) did not apply: {next(iter(bad.values()))}")
    return Sample(after[0] - before[0] + server, after[1] - before[1], after[2] - before[2])


def median(samples: list[Sample], field: str) -> float:
    return statistics.median(getattr(s, field) for s in samples)


async def measure(settings: Settings, runs: int, modes: list[str]) -> dict[str, dict[int, list[Sample]]]:
    every = {
        mode: AnsibleActivities(settings.model_copy(update={"worker_playbook_warm": mode == "warm"}))
        for mode in modes
    }
    for activities in every.values():
        await one_run(activities, 1)  # warm-up: imports, first-run caches, the fork server's start
    samples: dict[str, dict[int, list[Sample]]] = {mode: {size: [] for size in SIZES} for mode in modes}
    for _ in range(runs):  # interleaved, so drift on a shared machine hits every size and mode alike
        for size in SIZES:
            for mode, activities in every.items():
                samples[mode][size].append(await one_run(activities, size))
    for activities in every.values():
        activities.close()
    return samples


def report(samples: dict[int, list[Sample]], runs: int, mode: str = "cold") -> None:
    print(f"{mode}: median of {runs} runs per size; CPU-seconds per playbook run")
    print(f"{'changes':>7} {'playbook tree':>13} {'worker side':>11} {'total':>7} {'wall s':>7}")
    for size, rows in samples.items():
        print(
            f"{size:>7} {median(rows, 'children'):>13.3f} {median(rows, 'worker'):>11.3f}"
            f" {median(rows, 'total'):>7.3f} {median(rows, 'wall'):>7.2f}"
        )
    empty, full = median(samples[0], "total"), median(samples[SIZES[-1]], "total")
    per_change = (full - empty) / SIZES[-1]
    print(f"a {SIZES[-1]}-change run costs {full / empty:.2f}x an empty one")
    print(f"per change beyond the start-up: {per_change * 1000:.1f} ms CPU")
    print(f"start-up share of a {SIZES[-1]}-change run: {empty / full:.0%}")
    print(f"CPU per record in a {SIZES[-1]}-change run: {full / SIZES[-1] * 1000:.1f} ms")


def compare(cold: dict[int, list[Sample]], warm: dict[int, list[Sample]]) -> None:
    print("warm / cold, total CPU per run:")
    for size in SIZES:
        before, after = median(cold[size], "total"), median(warm[size], "total")
        print(f"{size:>7} changes: {before:.3f} -> {after:.3f} CPU-s ({after / before:.0%})")


def keep_empty_run(settings: Settings) -> Path:
    """One empty batch through the worker's path, its run dir kept for the warm replays."""
    kept = AnsibleActivities(
        settings.model_copy(update={"state_dir": settings.state_dir / "kept"}), keep_run_dirs=True
    )
    asyncio.run(one_run(kept, 0))
    (run_dir,) = (settings.state_dir / "kept" / "ansible-runs").iterdir()
    return run_dir


def warm_probe(run_dir: Path, level: str, runs: int) -> None:
    """Child mode: import Ansible once, then replay the kept run `runs` times in forked children."""
    command = json.loads((run_dir / "artifacts" / "run" / "command").read_text())
    os.environ.clear()
    os.environ.update(command["env"])
    os.chdir(command["cwd"])
    for module in PRE_IMPORTED:
        importlib.import_module(module)
    assert "ansible.constants" not in sys.modules, "a pre-imported module read the configuration"
    if level == "warm":
        from ansible.plugins.loader import init_plugin_loader
        from ansible.utils.collection_loader._collection_finder import _get_collection_metadata

        for module in WARM:
            importlib.import_module(module)
        init_plugin_loader([])
        _get_collection_metadata("ansible.builtin")  # the builtin routing table, parsed once
    from ansible.cli.playbook import main as playbook_main

    argv = ["ansible-playbook", *command["command"][1:]]
    seconds = []
    for _ in range(runs):
        pid = os.fork()
        if pid == 0:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            try:
                playbook_main(argv)
            except SystemExit as done:
                os._exit(done.code if isinstance(done.code, int) else 1)
            os._exit(0)
        _, status, usage = os.wait4(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"the {level} replay failed: {status}")
        seconds.append(usage.ru_utime + usage.ru_stime)
    print(statistics.median(seconds))


def warm_report(settings: Settings, cold: float, runs: int) -> None:
    run_dir = keep_empty_run(settings)
    print(f"an empty run, replayed from a process that imported Ansible once ({runs} runs):")
    for level in ("pre-imported", "warm"):
        probe = [sys.executable, __file__, "--warm-probe", str(run_dir), level, "-n", str(runs)]
        seconds = float(subprocess.run(probe, check=True, capture_output=True, text=True).stdout)
        print(f"{level:>13}: {seconds:.3f} CPU-s, {seconds / cold:.0%} of a cold start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=7, help="runs per batch size")
    parser.add_argument("--mode", choices=("cold", "warm", "both"), default="both",
                        help="WORKER_PLAYBOOK_WARM off, on, or both (compared)")  # fmt: skip
    parser.add_argument("--warm", action="store_true", help="also replay an empty run warm")
    parser.add_argument("--warm-probe", nargs=2, metavar=("RUN_DIR", "LEVEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm_probe:
        warm_probe(Path(args.warm_probe[0]), args.warm_probe[1], args.n)
        return
    work = Path(tempfile.mkdtemp(prefix="dnsorch-bench-playbook-"))
    bind = BindServer(work / "bind", [ZONE], free_port(), work / "bind" / "tsig.key")
    bind.start()
    try:
        settings = Settings(
            state_dir=work / "state",
            dns_server=bind.host,
            dns_port=bind.port,
            tsig_key_file=bind.key_file,
            dns_zones=[ZONE],
        )
        modes = ["cold", "warm"] if args.mode == "both" else [args.mode]
        by_mode = asyncio.run(measure(settings, args.n, modes))
        for mode in modes:
            report(by_mode[mode], args.n, mode)
        if len(modes) == 2:
            compare(by_mode["cold"], by_mode["warm"])
        if args.warm and "cold" in by_mode:
            warm_report(settings, median(by_mode["cold"][0], "children"), args.n)
    finally:
        bind.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
