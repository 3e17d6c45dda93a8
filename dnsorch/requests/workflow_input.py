"""What a request's workflow is started with (ProvisioningInput): the accepted spec, the apply policy
from the settings, and the approval policy's verdict."""

from __future__ import annotations

from dnsorch.contracts import ApplyPolicy, DnsRequestSpec, ProvisioningInput
from dnsorch.requests.approval import Verdict, enabled_risks
from dnsorch.settings import Settings


def apply_policy(settings: Settings) -> ApplyPolicy:
    return ApplyPolicy(
        max_attempts=settings.ansible_max_attempts,
        initial_retry_seconds=settings.ansible_initial_retry_seconds,
        retry_backoff=settings.ansible_retry_backoff,
        max_retry_seconds=settings.ansible_max_retry_seconds,
        timeout_seconds=settings.ansible_timeout_seconds,
        heartbeat_seconds=settings.ansible_heartbeat_seconds,
        attention_timeout_seconds=settings.attention_timeout_seconds,
        propagation_timeout_seconds=settings.dns_propagation_timeout_seconds,
        propagation_interval_seconds=settings.dns_propagation_interval_seconds,
        rollback_on_verify_failure=settings.dns_verify_failure == "rollback",
    )


def expiry_verdict() -> Verdict:
    """An expiring record's delete waits for nobody: its owner asked for it up front (`expires_at`)."""
    return Verdict(reasons=["no approval needed: an expiry, which the owner asked for up front (expires_at)"])


def workflow_input(
    spec: DnsRequestSpec, held: Verdict, settings: Settings, reverse_zones: list[str]
) -> ProvisioningInput:
    """The workflow's one argument for `spec`, held (or not) by the approval policy's verdict."""
    return ProvisioningInput(
        request=spec,
        policy=apply_policy(settings),
        approval_required=held.required,
        approval_reasons=held.reasons + _approvers_needed(held),
        approval_timeout_seconds=settings.approval_timeout_seconds,  # held at the plan too
        approval_verdict="" if held.required else f"approval policy: {held.describe()}",
        reverse_zones=reverse_zones,
        approvals_required=held.approvers,
        four_eyes=settings.approval_four_eyes,
        hold_dangling_targets="dangling_target" in enabled_risks(spec, settings),
        ttl_dance_threshold_seconds=settings.ttl_dance_threshold_seconds,
        ttl_dance_short_ttl=settings.ttl_dance_short_ttl,
    )


def _approvers_needed(held: Verdict) -> list[str]:
    """Said on the PENDING_APPROVAL line when one approval is not enough."""
    return [f"needs {held.approvers} distinct approvers"] if held.required and held.approvers > 1 else []
