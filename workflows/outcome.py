"""How DnsProvisioningWorkflow's request ends: an Outcome raised from deep in its flow (or from an
operator's action) and caught in `run`, which writes it as the final status."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dnsorch.contracts import OperatorAction, RequestStatus


class Outcome(Exception):
    """Ends the request with a final status (raised from deep in the flow, caught in `run`)."""

    def __init__(
        self,
        status: RequestStatus,
        message: str,
        actor: str = "workflow",
        ticket: int = 0,
        *,
        store_record: bool = False,
        asked: str = "",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.actor = status, message, actor
        self.ticket = ticket  # the operator's update returns once the final status is recorded
        self.store_record = store_record  # DNS serves the request's change (completed or resolved)
        # Who asked for this ending, in words ("cancel by alice: why"), when it was asked for rather
        # than reached by the flow: workflows/story.py settles it against what DNS serves.
        self.asked = asked


def note(action: OperatorAction) -> str:
    return note_text(action.note)


def note_text(text: str) -> str:
    return f": {text}" if text else ""
