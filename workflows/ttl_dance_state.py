"""TtlDance: what a request's TTL dance (workflows/ttl_dance.py) moves between and how far it got,
decided from the request's first plan. Pure state, apart from the patch marker it records when a
request dances; it imports no other room, so the run's state (run_state.py) can hold it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import PTR_SOURCE, ChangePlan, DnsChange, DnsRequestSpec, ProvisioningInput
    from dnsorch.dns import same_rrset
    from workflows.patches import patched

# An update that asks for it (or whose served TTL is over the threshold) dances around its apply.
TTL_DANCE = "ttl-dance"
LOWER, WAIT, APPLY, RESTORE = "lower", "wait", "apply", "restore"


@dataclass
class TtlDance:
    """One request's dance: the TTLs it moves between, and the steps done so far."""

    values: list[str]
    """What the plan saw served: step 1 lowers its TTL, a cancel restores it."""
    old_ttl: int
    short_ttl: int
    final_ttl: int
    done: set[str] = field(default_factory=set)
    """The steps done (LOWER, WAIT, APPLY, RESTORE): a retry goes on from the first one not done."""

    @classmethod
    def planned(
        cls, request: DnsRequestSpec, plan: ChangePlan, params: ProvisioningInput | None
    ) -> TtlDance | None:
        """The dance for the request's first plan, or None (`why_not` says why, when it asked)."""
        if params is None or why_not(request, plan, params) is not None:
            return None
        if not patched(TTL_DANCE):
            return None
        assert plan.old_ttl is not None
        return cls(list(plan.old_values), plan.old_ttl, params.ttl_dance_short_ttl, request.ttl)

    @staticmethod
    def plan_line(
        text: str,
        dance: TtlDance | None,
        request: DnsRequestSpec,
        plan: ChangePlan,
        params: ProvisioningInput | None,
    ) -> str:
        """The plan's line with the dance's steps, or with why a request that asked for one does not
        dance."""
        if dance is not None:
            return f"{text}; {dance.describe()}"
        why = why_not(request, plan, params) if params is not None and plan.action != "unknown" else ""
        return f"{text}; no TTL dance: {why}" if why else text

    @staticmethod
    def shown(dance: TtlDance | None, plan: dict[str, Any] | None) -> dict[str, Any] | None:
        """The plan as the timeline keeps it: with the dance's steps (`ttl_dance`) when it dances. A
        copy: the run's own plan stays a ChangePlan's fields."""
        return plan if dance is None or plan is None else {**plan, "ttl_dance": dance.steps()}

    def describe(self) -> str:
        return "TTL dance: " + "; ".join(f"{n}. {step}" for n, step in enumerate(self.steps(), start=1))

    def steps(self) -> list[str]:
        return [
            f"lower the TTL {self.old_ttl} → {self.short_ttl} and verify it everywhere",
            f"wait out the old TTL ({self.old_ttl} s)",
            f"apply the change at TTL {self.short_ttl}",
            "verify it everywhere",
            f"restore the TTL to {self.final_ttl} and verify it everywhere",
        ]

    def applying(self, change: DnsChange) -> DnsChange:
        """Step 3's change: the request's, at the short TTL, verified with it."""
        return dataclasses.replace(change, ttl=self.short_ttl, verify_ttl=True)

    def lowered(self, change: DnsChange) -> DnsChange:
        """Step 1's change: what is served now, at the short TTL (a restore carries no prerequisite)."""
        return dataclasses.replace(
            change, operation="restore", values=list(self.values), ttl=self.short_ttl, verify_ttl=True
        )


def why_not(request: DnsRequestSpec, plan: ChangePlan, params: ProvisioningInput) -> str | None:
    """None: the request dances; else why not ("" when it neither asked nor crossed the threshold)."""
    threshold = params.ttl_dance_threshold_seconds
    over = bool(threshold) and plan.old_ttl is not None and plan.old_ttl > threshold
    if request.operation != "update" or request.source == PTR_SOURCE or not (request.ttl_dance or over):
        return ""
    if plan.action != "replace" or plan.old_ttl is None:
        return "there is no served record to move"
    if plan.old_ttl <= params.ttl_dance_short_ttl:
        return (
            f"the served TTL ({plan.old_ttl} s) is not above the short TTL ({params.ttl_dance_short_ttl} s)"
        )
    if same_rrset(plan.old_values, plan.new_values, request.record_type, request.zone):
        return "only the TTL changes"
    return None
