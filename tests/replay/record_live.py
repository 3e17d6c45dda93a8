"""Record workflow histories from REAL runs on a dev stack: `python -m tests.replay.record_live`.

Drives a running `dnsorch dev` through API v2 (real worker, playbook, BIND, PostgreSQL) and saves
the histories of every workflow type it starts under tests/replay/histories/live/<set>/ (`--set`,
named after the release's newest patch), which tests/unit/workflows/replay/test_replay.py replays;
a record expiry's
history (RecordExpiryWorkflow, id `dns-expiry-<request id>`) is saved beside them. The set
freeze-windows was recorded on this stack, started from the worktree (`python -m dnsorch.cli dev`
runs its code; the `dnsorch` script may import another checkout) on ports of its own:

    STATE_DIR=/tmp/rec-state DEV_KAFKA=none \\
      DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1:15433/dnsorch \\
      TEMPORAL_ADDRESS=127.0.0.1:17233 TEMPORAL_UI_PORT=18233 DNS_PORT=15353 API_PORT=18000 \\
      WORKER_METRICS_PORT=0 CONSUMER_METRICS_PORT=0 \\
      APPROVAL_ACCOUNTS=acct-approval ANSIBLE_MAX_ATTEMPTS=2 \\
      ANSIBLE_INITIAL_RETRY_SECONDS=1 ANSIBLE_HEARTBEAT_SECONDS=5 DNS_VERIFY_TIMEOUT_SECONDS=2 \\
      DNS_PROPAGATION_TIMEOUT_SECONDS=3 APPROVAL_TIMEOUT_SECONDS=20 \\
      DNS_ZONES=example.test,2.0.192.in-addr.arpa \\
      DRIFT_INTERVAL_SECONDS=20 DRIFT_POLICY=raise \\
      APPROVAL_RISKS=delete,apex,ns,mx,ttl_drop,zone_share,dangling_target APPROVAL_RISK_APPROVERS=mx=2 \\
      python -m dnsorch.cli dev

and, with the same environment (DATABASE_URL for `dnsorch keys create`, STATE_DIR, DNS_PORT):

    python -m tests.replay.record_live --set freeze-windows --api http://127.0.0.1:18000 \\
      --temporal 127.0.0.1:17233

The reverse zone gives a create its PTR request; a short heartbeat lets a cancel reach a running
apply within seconds, well inside an operator action's 30 s; the drift scan runs every 20 s and
raises (an operator's retry heals); `dangling_target` holds a CNAME to nothing for approval; an MX
change needs two distinct approvers (the second key is made with `dnsorch keys create`). This
release's scenarios are in tests/replay/live_freeze_windows.py.

Re-record only after a deliberate, versioned (`workflow.patched`) change; never to make a failing
replay test pass. Older recordings stay: they are the workflows already running in production.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from tests.replay.live_freeze_windows import release_scenarios

LIVE = Path(__file__).parent / "histories" / "live"
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "REJECTED", "ROLLED_BACK"}


class Stack:
    def __init__(self, api: str, key: str, state_dir: Path, temporal: str, dns_port: int = 5353) -> None:
        self.http = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        self.state_dir = state_dir
        self.dns_port = dns_port
        self.loop = asyncio.new_event_loop()
        self.temporal = self.loop.run_until_complete(Client.connect(temporal))

    def create(
        self,
        account: str,
        record_type: str,
        domain: str,
        target: str,
        op: str = "create",
        dry_run: bool = False,
    ) -> str:
        resource: dict[str, Any] = {"record_type": record_type, "domain": domain, "target": target}
        body = {"operation": op, "context": {"account_id": account}, "resource": resource, "dry_run": dry_run}
        answer = self.http.post("/api/v2/dns/requests", json=body)
        answer.raise_for_status()
        return str(answer.json()["request_id"])

    def status(self, request_id: str) -> str:
        return str(self.http.get(f"/api/v2/dns/requests/{request_id}").json()["status"])

    def wait(self, request_id: str, wanted: set[str], timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while (status := self.status(request_id)) not in wanted:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{request_id} still {status}, wanted {wanted}")
            time.sleep(0.3)
        return status

    def approve_if_held(self, request_id: str) -> None:
        """A change the approval gate holds for its risk (a delete, a zone share) is approved."""
        if self.wait(request_id, FINAL | {"IN_PROGRESS", "PENDING_APPROVAL"}) == "PENDING_APPROVAL":
            self.act(request_id, "approve")

    def timeline(self, request_id: str) -> list[str]:
        entries = self.http.get(f"/api/v2/dns/requests/{request_id}").json()["timeline"]
        return [str(entry["message"]) for entry in entries]

    def wait_for_line(self, request_id: str, start: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(line.startswith(start) for line in self.timeline(request_id)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{request_id} never logged {start!r}: {self.timeline(request_id)}")
            time.sleep(0.2)

    def wait_for_event(self, request_id: str, event_type: int, timeout: float = 60) -> None:
        """Until the request's workflow history holds an event of that type."""
        handle = self.temporal.get_workflow_handle(f"dns-request-{request_id}")
        deadline = time.monotonic() + timeout
        while True:
            history = self.loop.run_until_complete(handle.fetch_history())
            if any(event.event_type == event_type for event in history.events):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{request_id}: no {EventType.Name(event_type)} in its history")
            time.sleep(0.1)

    def act(self, request_id: str, action: str, note: str = "recorded") -> None:
        answer = self.http.post(f"/api/v2/dns/requests/{request_id}/actions/{action}", json={"note": note})
        answer.raise_for_status()

    def note(self, request_id: str, status: str) -> None:
        answer = self.http.post(
            f"/api/v1/dns/update_status/{request_id}", json={"status": status, "message": "recorded note"}
        )
        answer.raise_for_status()

    def pause_bind(self, paused: bool) -> None:
        pid = int((self.state_dir / "bind" / "named.pid").read_text())
        os.kill(pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def pause_secondary(self, paused: bool) -> None:
        pid = int((self.state_dir / "knot" / "run" / "knot.pid").read_text())
        os.kill(pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def ptr_child(self, request_id: str) -> str:
        """The PTR request a forward request started (its id is on the forward request's timeline)."""
        timeline = self.http.get(f"/api/v2/dns/requests/{request_id}").json()["timeline"]
        line = next(entry["message"] for entry in timeline if entry["message"].startswith("PTR "))
        return str(line.split("request ", 1)[1].split(")", 1)[0])


def scenarios(stack: Stack, tag: str) -> dict[str, str]:
    """Each scenario's request id; the last ones leave their name-lock workflow with a history."""
    zone = "example.test"
    ids: dict[str, str] = {}

    ids["create_completed"] = stack.create("acct-live", "A", f"live-{tag}.{zone}", "192.0.2.61")
    stack.wait(ids["create_completed"], FINAL)
    ids["update_completed"] = stack.create("acct-live", "A", f"live-{tag}.{zone}", "192.0.2.62", "update")
    stack.wait(ids["update_completed"], FINAL)
    ids["ptr_child_completed"] = stack.ptr_child(ids["create_completed"])
    ids["delete_completed"] = stack.create("acct-live", "A", f"live-{tag}.{zone}", "", "delete")
    if stack.wait(ids["delete_completed"], FINAL | {"PENDING_APPROVAL"}) == "PENDING_APPROVAL":
        stack.act(ids["delete_completed"], "approve")  # a delete is risky: it waits for approval
    stack.wait(ids["delete_completed"], FINAL)

    rejected = stack.create("acct-approval", "A", f"appr-{tag}.{zone}", "192.0.2.63")
    ids["approval_note_then_rejected"] = rejected
    stack.wait(rejected, {"PENDING_APPROVAL"})
    stack.note(rejected, "NEEDS_ATTENTION")  # a note, never a state
    stack.act(rejected, "reject")

    ids["approved_completed"] = stack.create("acct-approval", "TXT", f"txt-{tag}.{zone}", "live recording")
    stack.wait(ids["approved_completed"], {"PENDING_APPROVAL"})
    stack.act(ids["approved_completed"], "approve")
    stack.wait(ids["approved_completed"], FINAL)

    # BIND paused after the plan: the playbook's UPDATE waits in BIND; `fail` waits for the playbook to
    # be killed, then asks the primary (fail-asks-dns), which answers once resumed.
    ids["fail_during_apply"] = stack.create("acct-live", "A", f"hang-{tag}.{zone}", "192.0.2.64")
    stack.note(ids["fail_during_apply"], "PENDING_APPROVAL")  # a note, never a state
    end_in_flight(stack, ids["fail_during_apply"], "fail")

    # BIND paused from the start: the plan is unknown, every attempt times out, attempts run out, twice
    # (a CNAME beside an A, the way this used to be reached, is now refused at accept). The cancel asks
    # the primary once it answers again (cancel-asks-dns).
    stack.pause_bind(True)
    try:
        ids["attention_then_retry"] = stack.create("acct-live", "A", f"clash-{tag}.{zone}", "192.0.2.65")
        stack.wait(ids["attention_then_retry"], {"NEEDS_ATTENTION"})
        stack.act(ids["attention_then_retry"], "retry")
        time.sleep(1)
        stack.wait(ids["attention_then_retry"], {"NEEDS_ATTENTION"})
    finally:
        stack.pause_bind(False)
    time.sleep(2)  # BIND applies what it held, if it still has it
    stack.act(ids["attention_then_retry"], "cancel")
    stack.wait(ids["attention_then_retry"], FINAL)

    # The secondary paused: the change is not served everywhere, an operator rolls it back.
    stack.pause_secondary(True)
    try:
        ids["attention_then_rollback"] = stack.create("acct-live", "TXT", f"lag-{tag}.{zone}", "lagging")
        stack.wait(ids["attention_then_rollback"], {"NEEDS_ATTENTION"})
    finally:
        stack.pause_secondary(False)
    stack.act(ids["attention_then_rollback"], "rollback")
    stack.wait(ids["attention_then_rollback"], FINAL)

    # Approval has a deadline.
    ids["approval_timed_out"] = stack.create("acct-approval", "TXT", f"late-{tag}.{zone}", "nobody came")
    stack.wait(ids["approval_timed_out"], FINAL)

    # Plan before apply: a dry run ends after its plan.
    ids["dry_run_completed"] = stack.create("acct-live", "A", f"dry-{tag}.{zone}", "192.0.2.66", dry_run=True)
    stack.wait(ids["dry_run_completed"], FINAL)
    return ids | asks_dns(stack, tag) | turns(stack, tag)


def asks_dns(stack: Stack, tag: str) -> dict[str, str]:
    """A cancel or fail after the change was sent asks the primary what it serves (cancel-asks-dns,
    fail-asks-dns): served → the plan's snapshot is restored; no answer → NEEDS_ATTENTION."""
    zone = "example.test"
    ids: dict[str, str] = {}

    ids["cancel_in_flight_restores"] = stack.create("acct-live", "A", f"held-{tag}.{zone}", "192.0.2.67")
    end_in_flight(stack, ids["cancel_in_flight_restores"], "cancel")

    # Still paused when the cancel asks: it claims nothing; the next cancel, answered, restores.
    unanswered = stack.create("acct-live", "A", f"mute-{tag}.{zone}", "192.0.2.68")
    ids["cancel_unanswered_then_restores"] = unanswered
    stack.wait_for_line(unanswered, "plan:")
    stack.pause_bind(True)
    try:
        time.sleep(3)  # the playbook starts and sends its UPDATE
        stack.act(unanswered, "cancel")
        stack.wait(unanswered, {"NEEDS_ATTENTION"})
    finally:
        stack.pause_bind(False)
    time.sleep(2)  # BIND applies the UPDATE it held
    stack.act(unanswered, "cancel")
    stack.wait(unanswered, FINAL)

    # The secondary paused: verification times out; a fail finds the primary serving the change.
    stack.pause_secondary(True)
    try:
        ids["fail_in_attention_restores"] = stack.create("acct-live", "TXT", f"slow-{tag}.{zone}", "lagging")
        stack.wait(ids["fail_in_attention_restores"], {"NEEDS_ATTENTION"})
    finally:
        stack.pause_secondary(False)
    stack.act(ids["fail_in_attention_restores"], "fail")
    stack.wait(ids["fail_in_attention_restores"], FINAL)
    return ids


def turns(stack: Stack, tag: str) -> dict[str, str]:
    """Two updates of one name back to back: the second waits for its turn (turn-before-plan) while
    the first's UPDATE is held by a paused primary."""
    domain = f"turn-{tag}.example.test"
    stack.wait(stack.create("acct-live", "A", domain, "192.0.2.69"), FINAL)
    first = stack.create("acct-live", "A", domain, "192.0.2.70", "update")
    stack.approve_if_held(first)
    stack.wait_for_line(first, "plan:")
    stack.pause_bind(True)
    try:
        second = stack.create("acct-live", "A", domain, "192.0.2.71", "update")
        stack.approve_if_held(second)
        stack.wait_for_line(second, "waiting for request")
    finally:
        stack.pause_bind(False)
    stack.wait(first, FINAL)
    stack.wait(second, FINAL)
    return {"turn_holder_completed": first, "waited_for_turn_completed": second}


def end_in_flight(stack: Stack, request_id: str, action: str) -> None:
    """Pause BIND once the plan is logged (the playbook's UPDATE then waits in BIND), ask `action`, and
    resume BIND once the apply has stopped, so the primary's answer tells what became of the UPDATE.
    Should the question come before BIND wakes (NEEDS_ATTENTION: no answer), the action is asked again."""
    stack.wait_for_line(request_id, "plan:")
    stack.pause_bind(True)
    try:
        time.sleep(3)  # the playbook starts and sends its UPDATE
        with ThreadPoolExecutor(max_workers=1) as pool:
            asked = pool.submit(stack.act, request_id, action)  # returns once the request decided
            stack.wait_for_event(request_id, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED)
            stack.pause_bind(False)
            asked.result()
    finally:
        stack.pause_bind(False)
    if stack.wait(request_id, FINAL | {"NEEDS_ATTENTION"}) == "NEEDS_ATTENTION":
        time.sleep(2)
        stack.act(request_id, action)
    stack.wait(request_id, FINAL)


async def save(
    address: str, into: Path, ids: dict[str, str], lock_names: list[str], others: dict[str, str]
) -> None:
    """Requests' histories by scenario name; `others`: other workflow types' (a record expiry's) by id."""
    client = await Client.connect(address)
    into.mkdir(parents=True, exist_ok=True)
    workflows = {name: f"dns-request-{request_id}" for name, request_id in ids.items()} | others
    for name, workflow_id in workflows.items():
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        (into / f"{name}.json").write_text(history.to_json())
        print(f"recorded {name}: {len(history.events)} events")
    for name in lock_names:  # only workflows from before lean-request used a name-lock workflow
        try:
            history = await client.get_workflow_handle(f"dns-name-lock-{name}").fetch_history()
        except RPCError:
            continue
        (into / f"name_lock_{name.split('.')[0].split('-')[0]}.json").write_text(history.to_json())
        print(f"recorded name lock {name}: {len(history.events)} events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--temporal", default="127.0.0.1:7233")
    parser.add_argument("--state-dir", type=Path, default=Path(os.environ.get("STATE_DIR", ".dnsorch")))
    parser.add_argument("--dns-port", type=int, default=int(os.environ.get("DNS_PORT", "5353")))
    parser.add_argument("--set", required=True, help="folder under histories/live, e.g. lean-request")
    args = parser.parse_args()
    key = (args.state_dir / "dev-api-key").read_text().strip()
    tag = uuid.uuid4().hex[:6]
    stack = Stack(args.api, key, args.state_dir, args.temporal, args.dns_port)
    # This release's first: the drift scan must not be stuck on a server the older scenarios pause.
    ids, others = release_scenarios(stack, tag)
    ids |= scenarios(stack, tag)
    names = [f"live-{tag}.example.test", f"clash-{tag}.example.test"]
    asyncio.run(save(args.temporal, LIVE / args.set, ids, names, others))


if __name__ == "__main__":
    main()
