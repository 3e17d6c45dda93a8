"""The patch ids of DnsProvisioningWorkflow's core steps. Changes to the workflow's behaviour ship
behind `workflow.patched(ID)`: workflows recorded before a change replay down the old branch
(docs/workflow.md, "Shipping a workflow change"). Rules with a room of their own keep their ids
there: live_dns.py, cancel_check.py, story.py, schedule.py, freeze.py, operators.py.

Every step asks `patched(ID)` below, not `workflow.patched(ID)`: one marker, ONE_MARKER, stands for
all the patches that shipped before it, so a request started since records one patch marker where it
recorded up to 28 (each marker is an event Temporal stores and the worker replays)."""

from temporalio import workflow

# A final status must mean dnsorch no longer changes the name: a cancelled apply is waited for until
# its playbook is dead, and only then is the name released.
WAIT_FOR_APPLY_TO_STOP = "wait-for-apply-to-stop"
# Two workflow tasks per request instead of twelve: database writes are local activities, the first
# status is written with the row and the final one with the record, and the apply activity takes
# its turn on the name from PostgreSQL (activities/name_claims.py) instead of a lock workflow.
LEAN_REQUEST = "lean-request"
# A cancel (or fail) that reaches a playbook whose batch had already applied the change is too late:
# the request ends COMPLETED, saying so, with its record stored, because DNS serves the change.
REPORT_LATE_CANCEL = "report-late-cancel"
# Before each apply, a plan reads what the server serves and records the diff; a conflict with data
# dnsorch does not manage rejects the request there, and a dry run ends there.
PLAN_BEFORE_APPLY = "plan-before-apply"
# A change counts once every authoritative server of its zone serves it (the NS RRset, asked once);
# one that must not stay is rolled back to the plan's snapshot (the `rollback` action, ROLLED_BACK).
VERIFY_EVERYWHERE = "verify-everywhere"
# The request takes its turn on the name before its drift check and its plan, so both read what no
# other request is changing, and it waits for the turn in an activity of its own, apart from the
# apply's timeout and retries (a rollback takes it before its restore the same way).
TURN_BEFORE_PLAN = "turn-before-plan"
# A retry refused at the name's turn (the name moved to another account meanwhile) after an earlier
# attempt's change was served everywhere ends COMPLETED with its record: REJECTED would claim DNS
# untouched.
SERVED_STANDS_AT_TURN = "served-stands-at-turn"
# A request held for approval waits until its deadline, then ends REJECTED ("no approval in time").
APPROVAL_DEADLINE = "approval-deadline"
# A held request goes ahead after as many approvals by distinct API keys as it needs; under four
# eyes (or with more than one approver) an approval that names no key, or the submitter's, does not
# count (workflows/approvals.py). Each approval is a timeline line with its key.
DISTINCT_APPROVERS = "distinct-approvers"
# A plan that finds a CNAME, MX or SRV target that does not resolve holds the request for a person's
# approval where APPROVAL_RISKS lists `dangling_target` (unless one approved it already), then plans
# again at its next turn on the name.
DANGLING_TARGETS = "dangling-targets"
# Fewer local activities per request: the first check of a zone also looks up its servers, and the
# "served by every authoritative server" lines ride with the next write (flushed before any wait).
FEWER_ROUND_TRIPS = "fewer-round-trips"
# Fewer local activities before the apply: the first write also asks whether the zone is frozen, the
# turn on each name and each plan share one local activity while no name has to wait, and the plan
# lines ride with the next write (flushed before the apply starts, as before any wait).
FEWER_STEPS_TO_APPLY = "fewer-steps-to-apply"
# A retry refused at the name's turn after an earlier attempt's change was served everywhere asks the
# primary first: if it no longer serves the change (another request replaced it since), the request
# ends REJECTED and nothing of it is recorded. Shipped after ONE_MARKER: it records its own marker.
SERVED_STANDS_ASKS_DNS = "served-stands-asks-dns"
# Rules in other rooms: AUTOMATIC_PTR, PTR_WAITS_ALONE, ROLLBACK_ASKS_DNS (live_dns.py);
# ROLLBACK_STANDS, SERVED_IS_TOO_LATE, SNAPSHOT_FROM_FIRST_PLAN (story.py); CANCEL_ASKS_DNS,
# FAIL_ASKS_DNS (cancel_check.py); RESOLVE_ASKS_DNS (resolve_check.py); SCHEDULED_CHANGES
# (schedule.py); FREEZE_WINDOWS (freeze.py); MANUAL_STATUS_IS_A_NOTE (operators.py); TTL_DANCE
# (ttl_dance_state.py).

# A request started since this marker took every patch in UNDER_ONE_MARKER: its history records this
# one marker, and none of theirs.
ONE_MARKER = "one-marker"
UNDER_ONE_MARKER = frozenset(
    {
        WAIT_FOR_APPLY_TO_STOP,
        LEAN_REQUEST,
        REPORT_LATE_CANCEL,
        PLAN_BEFORE_APPLY,
        VERIFY_EVERYWHERE,
        TURN_BEFORE_PLAN,
        SERVED_STANDS_AT_TURN,
        APPROVAL_DEADLINE,
        DISTINCT_APPROVERS,
        DANGLING_TARGETS,
        FEWER_ROUND_TRIPS,
        FEWER_STEPS_TO_APPLY,
        # the other rooms' ids, as they are spelled there
        "automatic-ptr",
        "ptr-waits-alone",
        "ptr-in-apply",
        "rollback-asks-dns",
        "rollback-stands",
        "served-is-too-late",
        "snapshot-from-first-plan",
        "cancel-asks-dns",
        "fail-asks-dns",
        "resolve-asks-dns",
        "scheduled-changes",
        "judged-when-due",
        "freeze-windows",
        "manual-status-is-a-note",
        "ttl-dance",
    }
)
"""Frozen: a patch that ships after ONE_MARKER records its own marker, as patches always did, and
is never added here (a request started in between would replay down the wrong branch)."""


def patched(patch_id: str) -> bool:
    """`workflow.patched(patch_id)`, with ONE_MARKER standing for the patches under it: a history
    recorded before ONE_MARKER replays its own markers, as before."""
    if patch_id in UNDER_ONE_MARKER and workflow.patched(ONE_MARKER):
        return True
    return workflow.patched(patch_id)
