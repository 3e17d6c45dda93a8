"""What the primary serves at a change's name, asked from DnsProvisioningWorkflow: the plan before an
apply, a scheduled request's plan at its time, what a cancel or a rollback must restore, the TTL a
dance left. One local activity (activities/planning.py); it answers `unknown` rather than fail."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.planning import PlanningActivities
    from dnsorch.contracts import ChangePlan, DnsChange
    from workflows.policy import PLAN_RETRY, PLAN_TIMEOUT


async def ask_primary(change: DnsChange) -> ChangePlan:
    """What applying `change` would do to what the primary serves now."""
    return await workflow.execute_local_activity_method(
        PlanningActivities.plan_change,
        change,
        start_to_close_timeout=PLAN_TIMEOUT,
        retry_policy=PLAN_RETRY,
    )
