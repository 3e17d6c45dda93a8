"""The batch's DNS step, measured two ways on a real BIND in ONE run: `make bench-apply`.

1. `module`: playbooks/nsupdate_batch.yml, dnsorch's own module, a few TSIG-signed UPDATE messages
   per batch (what the worker runs);
2. `nsupdate-loop`: one playbook looping `community.general.nsupdate` over the same changes, one
   task per change (the module takes one record set per call, and its key as arguments, which is
   why dnsorch does not use it; this run's key is a throwaway made for it).

Each runs as one ansible-playbook, as the worker does, for N new A records; prints seconds, changes
per second and the ratio. Figures from one run on the same machine compare; across runs they are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import ansible_runner

from devstack.bind import BindServer
from devstack.ports import free_port
from dnsorch.settings import PROJECT_ROOT

ZONE = "bench.test"
LOOP_PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    changes: "{{ (lookup('file', payload_file) | from_json).changes }}"
  tasks:
    - name: One nsupdate task per change
      community.general.nsupdate:
        server: "{{ dns_server }}"
        port: "{{ dns_port | int }}"
        protocol: tcp
        key_name: "{{ key_name }}"
        key_secret: "{{ key_secret }}"
        key_algorithm: "{{ key_algorithm }}"
        zone: "{{ item.zone }}"
        record: "{{ item.domain }}."
        type: "{{ item.record_type }}"
        value: "{{ item['values'] }}"
        ttl: "{{ item.ttl }}"
      loop: "{{ changes }}"
      no_log: true
"""


def changes(n: int, tag: str) -> list[dict[str, object]]:
    return [
        {
            "request_id": str(uuid.uuid4()),
            "operation": "create",
            "record_type": "A",
            "domain": f"{tag}-{i}.{ZONE}",
            "zone": ZONE,
            "values": [f"198.51.{i // 250}.{i % 250 + 1}"],
            "ttl": 300,
        }
        for i in range(n)
    ]


def run(workdir: Path, playbook: Path, extravars: dict[str, object]) -> float:
    workdir.mkdir(parents=True)
    started = time.monotonic()
    result = ansible_runner.run(
        private_data_dir=str(workdir),
        playbook=str(playbook),
        extravars=extravars,
        envvars={  # ansible-playbook from this venv, as the worker runs it
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_PIPELINING": "1",
            "ANSIBLE_NOCOLOR": "1",
        },
        quiet=True,
    )
    seconds = time.monotonic() - started
    if result.status != "successful":
        failed = [e for e in result.events if e.get("event") == "runner_on_failed"]
        reason = failed[0]["event_data"]["res"].get("msg", "") if failed else ""
        raise SystemExit(f"{playbook.name} failed: {result.status} rc={result.rc} {reason}"[:500])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="changes per batch")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dnsorch-bench-apply-"))
    bind = BindServer(work / "bind", [ZONE], free_port(), work / "bind" / "tsig.key")
    bind.start()
    try:
        key_text = bind.key_file.read_text()
        key = {
            "key_name": re.search(r'key\s+"?([A-Za-z0-9._-]+)"?', key_text).group(1),  # type: ignore[union-attr]
            "key_algorithm": re.search(r"algorithm\s+([A-Za-z0-9.-]+);", key_text).group(1),  # type: ignore[union-attr]
            "key_secret": re.search(r'secret\s+"([^"]+)"', key_text).group(1),  # type: ignore[union-attr]
        }
        common = {"dns_server": bind.host, "dns_port": bind.port}
        figures = {}
        for mode in ("module", "nsupdate-loop"):
            payload = work / f"{mode}.json"
            payload.write_text(json.dumps({"changes": changes(args.n, mode)}))
            if mode == "module":
                playbook = PROJECT_ROOT / "playbooks" / "nsupdate_batch.yml"
                extra: dict[str, object] = {
                    "tsig_key_file": str(bind.key_file),
                    "results_file": str(work / "results.json"),
                }
            else:
                playbook = work / "loop.yml"
                playbook.write_text(LOOP_PLAYBOOK)
                extra = dict(key)
            seconds = run(work / f"run-{mode}", playbook, {**common, **extra, "payload_file": str(payload)})
            figures[mode] = seconds
            print(f"{mode:>14}: {args.n} changes in {seconds:6.1f} s = {args.n / seconds:7.1f} changes/s")
        print(f"{'ratio':>14}: the module is {figures['nsupdate-loop'] / figures['module']:.1f}x faster")
    finally:
        bind.stop()
        shutil.rmtree(work, ignore_errors=True)  # the loop run's artifacts hold the throwaway key


if __name__ == "__main__":
    main()
