"""The scenarios of the release whose newest patch is freeze-windows (issues 22 and 26), driven on a live
dev stack by tests/replay/record_live.py: drift raised then retried, a PTR request that waits alone
(ptr-waits-alone), a dangling target held for approval, scheduled changes, two distinct approvers,
freeze windows and an expiring record (RecordExpiryWorkflow).

Each needs the stack started as record_live.py's docstring says (DRIFT_INTERVAL_SECONDS, APPROVAL_RISKS
with dangling_target, APPROVAL_RISK_APPROVERS=mx=2, the Knot secondary).
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import dns.query
import dns.update

from devstack.dns_servers import find_sbin
from dnsorch.dns import tsig_key

if TYPE_CHECKING:
    from tests.replay.record_live import Stack

ZONE = "example.test"
REVERSE = "2.0.192.in-addr.arpa"
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "REJECTED", "ROLLED_BACK"}
DRIFT_SCHEDULE_ID = "dnsorch-drift-scan"


def release_scenarios(stack: Stack, tag: str) -> tuple[dict[str, str], dict[str, str]]:
    """Request ids by scenario, and the other workflows' ids (the record expiry's) by name.

    The expiry runs beside the drift scan (a TXT record: no PTR request while the reverse zone is
    frozen later), and has ended before the freeze window opens (its delete would be held)."""
    expiring = create(stack, "TXT", f"exp-{tag}.{ZONE}", "expires soon", expires_at=ahead(20))
    ids = {"expiring_create_completed": expiring}
    ids |= drift_raised_then_retried(stack, tag)
    stack.wait(expiring, FINAL)
    ids["expiry_delete_completed"] = found(stack, "expiry", f"exp-{tag}.{ZONE}", timeout=90)
    stack.wait(ids["expiry_delete_completed"], FINAL)
    expiry_workflow = f"dns-expiry-{expiring}"
    handle = stack.temporal.get_workflow_handle(expiry_workflow)
    stack.loop.run_until_complete(handle.result())
    ids |= ptr_waits_alone(stack, tag)
    ids |= dangling_target(stack, tag)
    ids |= scheduled(stack, tag)
    ids |= two_approvers(stack, tag)
    ids |= frozen(stack, tag)
    return ids, {"expiry_deleted_at_expiry": expiry_workflow}


def drift_raised_then_retried(stack: Stack, tag: str) -> dict[str, str]:
    """A kept TXT changed by a TSIG-signed UPDATE straight to BIND; the scan (DRIFT_POLICY=raise)
    starts a restore request in NEEDS_ATTENTION, and an operator's retry heals it."""
    domain = f"drift-{tag}.{ZONE}"
    kept = create(stack, "TXT", domain, "kept by dnsorch")
    stack.wait(kept, {"COMPLETED"})
    by_hand(stack, domain, "TXT", ['"changed by hand"'])
    stack.loop.run_until_complete(stack.temporal.get_schedule_handle(DRIFT_SCHEDULE_ID).trigger())
    drift = found(stack, "drift", domain, timeout=120)
    stack.wait(drift, {"NEEDS_ATTENTION"})
    stack.act(drift, "retry")
    stack.wait(drift, FINAL)
    return {"drift_kept_completed": kept, "drift_attention_then_retry": drift}


def ptr_waits_alone(stack: Stack, tag: str) -> dict[str, str]:
    """The reverse zone frozen on the Knot secondary: the forward A is served everywhere and ends
    COMPLETED, its PTR request times out verifying and waits in NEEDS_ATTENTION on its own; once the
    zone is thawed an operator's retry completes it."""
    knotc(stack, "zone-freeze", REVERSE)
    try:
        forward = create(stack, "A", f"alone-{tag}.{ZONE}", "192.0.2.81")
        stack.wait(forward, FINAL)
        ptr = stack.ptr_child(forward)
        stack.wait(ptr, {"NEEDS_ATTENTION"})
    finally:
        knotc(stack, "zone-thaw", REVERSE)
        knotc(stack, "zone-refresh", REVERSE)
    time.sleep(2)  # the secondary transfers what it missed
    stack.act(ptr, "retry")
    stack.wait(ptr, FINAL)
    return {"ptr_forward_completed_alone": forward, "ptr_attention_then_retry": ptr}


def dangling_target(stack: Stack, tag: str) -> dict[str, str]:
    """A CNAME whose target in a managed zone does not resolve waits for approval after its plan."""
    held = create(stack, "CNAME", f"dangle-{tag}.{ZONE}", f"nowhere-{tag}.{ZONE}")
    stack.wait(held, {"PENDING_APPROVAL"})
    stack.act(held, "approve")
    stack.wait(held, FINAL)
    return {"dangling_target_held_then_approved": held}


def scheduled(stack: Stack, tag: str) -> dict[str, str]:
    """One change waits in SCHEDULED for its not_before and completes; another is moved, then cancelled."""
    waited = create(stack, "TXT", f"sched-{tag}.{ZONE}", "at its time", not_before=ahead(8))
    stack.wait(waited, {"SCHEDULED"})
    moved = create(stack, "TXT", f"later-{tag}.{ZONE}", "never", not_before=ahead(3600))
    stack.wait(moved, {"SCHEDULED"})
    body = {"not_before": ahead(7200), "note": "recorded reschedule"}
    stack.http.post(f"/api/v2/dns/requests/{moved}/schedule", json=body).raise_for_status()
    stack.act(moved, "cancel")
    stack.wait(moved, FINAL)
    stack.wait(waited, FINAL)
    return {"scheduled_waited_then_completed": waited, "rescheduled_then_cancelled": moved}


def two_approvers(stack: Stack, tag: str) -> dict[str, str]:
    """An MX change (APPROVAL_RISK_APPROVERS=mx=2) goes ahead after approvals by two API keys: the dev
    admin key's, then a second operator key's made with `dnsorch keys create`."""
    command = ["keys", "create", "--account", "ops", "--role", "operator", "--name", f"recorder-{tag}"]
    second = subprocess.run(
        [sys.executable, "-m", "dnsorch.cli", *command],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    held = create(stack, "MX", f"mx-{tag}.{ZONE}", "mail.example.net", priority=10)
    stack.wait(held, {"PENDING_APPROVAL"})
    stack.act(held, "approve")
    time.sleep(1)
    if stack.status(held) != "PENDING_APPROVAL":
        raise RuntimeError(f"{held} went ahead after one approval: is APPROVAL_RISK_APPROVERS=mx=2 set?")
    answer = stack.http.post(
        f"/api/v2/dns/requests/{held}/actions/approve",
        json={"note": "recorded second approval"},
        headers={"Authorization": f"Bearer {second}"},
    )
    answer.raise_for_status()
    stack.wait(held, FINAL)
    return {"two_approvers_completed": held}


def frozen(stack: Stack, tag: str) -> dict[str, str]:
    """A freeze window on the zone: one request is let through, the other goes once the window is
    ended early through the API."""
    body = {"zone": ZONE, "ends_at": ahead(3600), "reason": "recorded freeze"}
    answer = stack.http.post("/api/v2/freezes", json=body)
    answer.raise_for_status()
    window = answer.json()["id"]
    try:
        let_through = create(stack, "TXT", f"through-{tag}.{ZONE}", "let through")
        stack.wait(let_through, {"FROZEN"})
        ended_early = create(stack, "TXT", f"thaw-{tag}.{ZONE}", "after the window")
        stack.wait(ended_early, {"FROZEN"})
        stack.act(let_through, "let_through")
        stack.wait(let_through, FINAL)
    finally:
        stack.http.delete(f"/api/v2/freezes/{window}").raise_for_status()
    stack.wait(ended_early, FINAL)
    return {"frozen_let_through": let_through, "frozen_until_window_ended": ended_early}


def create(
    stack: Stack, record_type: str, domain: str, target: str, priority: int | None = None, **extra: Any
) -> str:
    resource: dict[str, Any] = {"record_type": record_type, "domain": domain, "target": target}
    if priority is not None:
        resource["config"] = {"priority": priority}
    body = {"operation": "create", "context": {"account_id": "acct-live"}, "resource": resource, **extra}
    answer = stack.http.post("/api/v2/dns/requests", json=body)
    if answer.status_code >= 400:
        raise RuntimeError(f"{domain}: {answer.status_code} {answer.text}")
    return str(answer.json()["request_id"])


def ahead(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def found(stack: Stack, source: str, domain: str, timeout: float) -> str:
    """The newest request of `source` for `domain`, once there is one."""
    deadline = time.monotonic() + timeout
    while True:
        answer = stack.http.get("/api/v2/dns/requests", params={"source": source, "domain": domain})
        answer.raise_for_status()
        if items := answer.json()["items"]:
            return str(items[0]["request_id"])
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {source} request for {domain}")
        time.sleep(0.5)


def by_hand(stack: Stack, domain: str, rtype: str, values: list[str], ttl: int = 300) -> None:
    """As an operator's nsupdate: a TSIG-signed UPDATE straight to BIND, dnsorch unaware."""
    update = dns.update.Update(ZONE, keyring=tsig_key(stack.state_dir / "bind" / "tsig.key"))
    update.replace(domain + ".", ttl, rtype, *values)
    response = dns.query.tcp(update, "127.0.0.1", port=stack.dns_port, timeout=5)
    if response.rcode() != 0:
        raise RuntimeError(f"by-hand UPDATE of {domain} refused: {response}")


def knotc(stack: Stack, *args: str) -> None:
    """Control the dev stack's Knot secondary, as devstack/knot.py `freeze` and `thaw` do."""
    conf = stack.state_dir / "knot" / "knot.conf"
    command = [find_sbin("knotc") or "knotc", "-c", str(conf), *args]
    subprocess.run(command, check=True, capture_output=True, timeout=10)
