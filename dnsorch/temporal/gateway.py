"""The one way the core reaches a request's workflow: typed calls, and every name the workflow answers to.

The core may not import workflows/ (the import-linter contract), so it cannot reference
`DnsProvisioningWorkflow`'s handlers by method. It names them here, once, with their argument and
result types; tests/unit/workflows/test_workflow_gateway.py binds each name to the real class, so renaming a
handler there breaks the test instead of a request. Temporal's errors become the core's here too:
ServiceUnavailable when Temporal cannot answer, WorkflowNotFound and UpdateRefused for the callers
that know which request they asked about.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import RawValue, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from dnsorch.contracts import (
    ExpiryInput,
    ExpiryState,
    ExtendExpiry,
    OperatorAction,
    ProvisioningInput,
    Reschedule,
    ServiceUnavailable,
    StatusChange,
    WorkflowState,
    expiry_workflow_id_for,
)
from dnsorch.temporal.search_attributes import request_attributes

log = logging.getLogger(__name__)
START_TIMEOUT = timedelta(seconds=10)
UPDATE_TIMEOUT = timedelta(seconds=30)

WORKFLOW_TYPE = "DnsProvisioningWorkflow"
"""The registered name of the request's workflow (workflows/provisioning.py)."""


@dataclass(frozen=True)
class Handler:
    """A message the workflow handles: what the gateway calls it, and the types on both sides."""

    name: str
    kind: Literal["signal", "update", "query"]
    arg: type | None
    result: type | None


ACT = Handler("act", "update", OperatorAction, str)
SET_STATUS = Handler("set_status", "update", StatusChange, str)
ACTION = Handler("action", "signal", OperatorAction, None)
UPDATE_STATUS = Handler("update_status", "signal", StatusChange, None)
STATE = Handler("state", "query", None, WorkflowState)
RESCHEDULE = Handler("reschedule", "update", Reschedule, str)
FREEZES_CHANGED = Handler("freezes_changed", "signal", None, None)
HANDLERS = (ACT, SET_STATUS, ACTION, UPDATE_STATUS, STATE, RESCHEDULE, FREEZES_CHANGED)

EXPIRY_WORKFLOW_TYPE = "RecordExpiryWorkflow"
"""The registered name of an expiring record's workflow (workflows/expiry.py)."""
EXTEND_EXPIRY = Handler("extend", "update", ExtendExpiry, str)
EXPIRY_STATE = Handler("expiry", "query", None, ExpiryState)
EXPIRY_HANDLERS = (EXTEND_EXPIRY, EXPIRY_STATE)


class WorkflowNotFound(Exception):
    """Temporal knows no such workflow, or it has ended (its NOT_FOUND); the message is Temporal's."""


class UpdateRefused(Exception):
    """The workflow's update validator (or handler) refused; nothing reached its history."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class StartedWorkflow:
    """What an existing workflow was started with, and whether it was terminated."""

    params: ProvisioningInput
    terminated: bool


def is_temporal_unreachable(error: BaseException) -> bool:
    """The SDK reports a failed (lazy) connection as a RuntimeError, not an RPCError."""
    return isinstance(error, RuntimeError) and "client connect" in str(error).lower()


@contextmanager
def _temporal_errors() -> Iterator[None]:
    try:
        yield
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowNotFound(error.message) from error
        raise ServiceUnavailable.temporal(error.message) from error
    except RuntimeError as error:
        if is_temporal_unreachable(error):
            raise ServiceUnavailable.temporal() from error
        raise


class ProvisioningGateway:
    """Typed calls to request workflows on one Temporal client and task queue."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    def _handle(self, workflow_id: str) -> WorkflowHandle[object, object]:
        return self.client.get_workflow_handle(workflow_id)

    async def start(self, params: ProvisioningInput, *, payload: Payload | None = None) -> bool:
        """Start the request's workflow; False when one with its id already exists.

        The id is `dns-request-<request id>` and a duplicate is refused, never reused, so a
        repeated start (a retry, a redelivery) starts nothing. `payload`: `params` already encoded
        by the default payload converter (the outbox's row, dnsorch/store/workflow_starts.py), sent
        as it is instead of being encoded again.
        """
        spec = params.request
        started = await self._start_once(
            WORKFLOW_TYPE,
            params if payload is None else RawValue(payload),
            spec.workflow_id,
            search_attributes=request_attributes(spec),
            static_summary=spec.summary,
            static_details=f"Request {spec.request_id} from {spec.source}",
        )
        if not started:
            log.info("workflow %s already exists; not starting a second one", spec.workflow_id)
        return started

    async def start_expiry(self, params: ExpiryInput) -> bool:
        """Start the expiry of the record `params.request_id` provisioned; False when it was started
        before. Its id is derived from the request and a duplicate is refused, never reused (even
        once the expiry has ended), so a retried start starts nothing."""
        return await self._start_once(
            EXPIRY_WORKFLOW_TYPE,
            params,
            expiry_workflow_id_for(params.request_id),
            static_summary=f"expiry of request {params.request_id} at {params.expires_at.isoformat()}",
        )

    async def _start_once(self, workflow: str, arg: object, workflow_id: str, **options: Any) -> bool:
        """Start `workflow` under an id that is never reused; False when it was used before."""
        try:
            await self.client.start_workflow(
                workflow,
                arg,
                id=workflow_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                # Fail fast while Temporal is down, so the caller answers 503 or holds back.
                rpc_timeout=START_TIMEOUT,
                **options,
            )
        except WorkflowAlreadyStartedError:
            return False
        except RPCError as error:
            raise ServiceUnavailable.temporal(error.message) from error
        except RuntimeError as error:
            if is_temporal_unreachable(error):
                raise ServiceUnavailable.temporal() from error
            raise
        return True

    async def extend_expiry(self, request_id: str, moved: ExtendExpiry) -> str:
        """Move a running expiry as an Update; returns the new time (ISO 8601)."""
        return await self._update(expiry_workflow_id_for(request_id), EXTEND_EXPIRY, moved)

    async def act(self, workflow_id: str, action: OperatorAction) -> str:
        """An operator action as an Update; returns the status it led to."""
        return await self._update(workflow_id, ACT, action)

    async def set_status(self, workflow_id: str, change: StatusChange) -> str:
        """A manual status as an Update (the action it means); returns the status it led to."""
        return await self._update(workflow_id, SET_STATUS, change)

    async def reschedule(self, workflow_id: str, moved: Reschedule) -> str:
        """Move a SCHEDULED request's time as an Update; returns its status."""
        return await self._update(workflow_id, RESCHEDULE, moved)

    async def _update(self, workflow_id: str, handler: Handler, arg: object) -> str:
        with _temporal_errors():
            try:
                result = await self._handle(workflow_id).execute_update(
                    handler.name, arg, result_type=str, rpc_timeout=UPDATE_TIMEOUT
                )
            except WorkflowUpdateFailedError as refused:
                cause = refused.cause
                raise UpdateRefused(
                    cause.message if isinstance(cause, ApplicationError) else str(cause)
                ) from refused
        return str(result)

    async def send_action(self, workflow_id: str, action: OperatorAction) -> None:
        """An operator action as a signal: no answer, applied when the state allows it."""
        with _temporal_errors():
            await self._handle(workflow_id).signal(ACTION.name, action)

    async def freezes_changed(self, workflow_id: str) -> None:
        """Tell a FROZEN request that a freeze window ended early: it asks again at once."""
        with _temporal_errors():
            await self._handle(workflow_id).signal(FREEZES_CHANGED.name)

    async def send_status(self, workflow_id: str, change: StatusChange) -> None:
        """API v1's manual status as a signal; the workflow records it in the request log."""
        with _temporal_errors():
            await self._handle(workflow_id).signal(UPDATE_STATUS.name, change)

    async def state(self, workflow_id: str) -> WorkflowState:
        with _temporal_errors():
            return await self._handle(workflow_id).query(STATE.name, result_type=WorkflowState)

    async def is_running(self, workflow_id: str) -> bool:
        with _temporal_errors():
            description = await self._handle(workflow_id).describe()
        return description.status == WorkflowExecutionStatus.RUNNING

    async def started(self, workflow_id: str) -> StartedWorkflow:
        """The input in the workflow's start event: what it provisions, whoever started it."""
        handle = self._handle(workflow_id)
        with _temporal_errors():
            description = await handle.describe()
            first = await anext(aiter(handle.fetch_history_events(page_size=1)))
            payloads = first.workflow_execution_started_event_attributes.input.payloads
            [params] = await self.client.data_converter.decode(payloads, [ProvisioningInput])
        return StartedWorkflow(params, description.status == WorkflowExecutionStatus.TERMINATED)

    async def terminate(self, workflow_id: str, reason: str) -> None:
        with _temporal_errors():
            await self._handle(workflow_id).terminate(reason=reason)
