"""Distinct approvers, for DnsProvisioningWorkflow (issue 26): who has approved a held request, and
whether the next approval counts. Pure and deterministic; `_await_approval` logs what it answers.

An approval counts once per API key. When a request needs one approver and four eyes are off, any
approval approves, as before (a signal from the Temporal UI included). Otherwise an approval must
name the key that sent it (API v2 does; a signal from the Temporal UI or CLI names none, and its
`actor` is whatever its sender typed, so it cannot tell two people apart), and under four eyes that
key may be neither the submitter's nor one of the submitting account's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import OperatorAction, ProvisioningInput
    from workflows.outcome import note


@dataclass
class Approvals:
    """The approvals a held request has, and what it needs."""

    required: int = 1
    four_eyes: bool = False
    submitted_by: str | None = None
    account_id: str = ""
    keys: list[str] = field(default_factory=list)
    """The API keys that approved, in order."""
    count: int = 0

    @classmethod
    def of(cls, params: ProvisioningInput) -> Approvals:
        request = params.request
        return cls(
            required=max(1, params.approvals_required),
            four_eyes=params.four_eyes,
            submitted_by=request.submitted_by,
            account_id=request.account_id,
        )

    @property
    def enough(self) -> bool:
        return self.count >= self.required

    @property
    def by_key(self) -> bool:
        """Whether approvals must name an API key to count."""
        return self.four_eyes or self.required > 1

    def refusal(self, action: OperatorAction) -> str | None:
        """Why this approval does not count; None when it does."""
        if not self.by_key:
            return None
        if not action.key_id:
            return "it names no API key (a signal from the Temporal UI or CLI); approve through API v2"
        if action.key_id in self.keys:
            return "this API key approved already; another approver must"
        if self.four_eyes and action.key_id == self.submitted_by:
            return "four eyes: the key that submitted the request cannot approve it"
        if self.four_eyes and action.account_id == self.account_id:
            return f"four eyes: {self.account_id} submitted the request; another account must approve it"
        return None

    def take(self, action: OperatorAction) -> tuple[str, str | None]:
        """Count `action` if it counts; answers its timeline line and the key to record with it."""
        why = self.refusal(action)
        if why is not None:
            return f"approval by {action.actor} not counted: {why}{note(action)}", None
        self.count += 1
        if action.key_id:
            self.keys.append(action.key_id)
        if self.required == 1:
            return f"approved by {action.actor}{note(action)}", action.key_id or None
        return f"approval {self.count} of {self.required} by {action.actor}{note(action)}", action.key_id
