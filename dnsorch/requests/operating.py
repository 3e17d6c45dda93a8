"""Operating on accepted requests, shared by the API's routes: read one, steer its workflow.

Every change goes to the request's workflow, never to its row: the workflow decides whether the
change is allowed in its state (dnsorch/requests/transitions.py) and records it in the log. A
request accepted a moment ago may have no workflow yet (its start is queued): it is started first.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import dns.exception
import dns.name
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from dnsorch.contracts import (
    AlreadyApproved,
    ExtendExpiry,
    FourEyes,
    IllegalTransition,
    InvalidRequest,
    OperatorAction,
    RequestFinished,
    RequestNotFound,
    RequestStatus,
    Reschedule,
    ServiceUnavailable,
    StatusChange,
    workflow_id_for,
)
from dnsorch.dns import name_text, zone_of
from dnsorch.logging import bind_request_id
from dnsorch.requests.starting import WorkflowStarter
from dnsorch.requests.validation import check_expires_at, check_not_before
from dnsorch.store import DnsRecord, DnsRequest, owners, request_rows
from dnsorch.temporal import ProvisioningGateway, UpdateRefused, WorkflowNotFound

log = logging.getLogger(__name__)
M = TypeVar("M", OperatorAction, StatusChange, Reschedule)
T = TypeVar("T")


async def read_request(engine: Engine, request_id: uuid.UUID) -> tuple[DnsRequest, DnsRecord | None]:
    """The request's row and, once provisioned, its record; RequestNotFound when there is none."""

    def read() -> tuple[DnsRequest, DnsRecord | None] | None:
        with Session(engine) as session:
            return request_rows.get_request(session, request_id)

    try:
        found = await asyncio.to_thread(read)
    except OperationalError as error:
        raise ServiceUnavailable.postgresql() from error
    if found is None:
        raise RequestNotFound(str(request_id))
    return found


class OperateService:
    def __init__(
        self,
        engine: Engine,
        gateway: ProvisioningGateway,
        *,
        four_eyes: bool = False,
        starter: WorkflowStarter | None = None,
    ) -> None:
        self.engine = engine
        self.gateway = gateway
        self.four_eyes = four_eyes
        self.starter = starter

    async def get(self, request_id: uuid.UUID) -> tuple[DnsRequest, DnsRecord | None]:
        return await read_request(self.engine, request_id)

    async def act(
        self,
        request_id: uuid.UUID,
        action: str,
        note: str,
        actor: str = "operator",
        *,
        by: tuple[str, str] | None = None,
    ) -> str:
        """An operator action as a Temporal Update: refused synchronously when illegal; returns the status.

        `by`: the caller's (key id, account), which four eyes check an approval against; the
        workflow counts approvals by that key (workflows/approvals.py)."""
        request = await self._steerable(request_id)
        if action == "approve" and self.four_eyes:
            self._check_four_eyes(request, by)
        if action == "approve" and by is not None:
            self._check_not_approved_yet(request, by[0])
        key_id, account_id = by or ("", "")
        sent = OperatorAction(action=action, actor=actor, note=note, key_id=key_id, account_id=account_id)
        return await self._send(request, self.gateway.act, sent)

    async def set_status(
        self, request_id: uuid.UUID, status: str, message: str, actor: str = "operator"
    ) -> str:
        """API v2's manual status: the action it means, validated by the workflow (see transitions)."""
        request = await self._steerable(request_id)
        change = StatusChange(status=status, message=message, actor=actor)
        return await self._send(request, self.gateway.set_status, change)

    async def reschedule(
        self, request_id: uuid.UUID, not_before: datetime, note: str, actor: str = "operator"
    ) -> str:
        """Move a SCHEDULED request's time (checked as at accept); refused (409) in any other state."""
        request = await self._steerable(request_id)
        when = check_not_before(not_before, datetime.now(UTC))
        assert when is not None
        return await self._send(
            request, self.gateway.reschedule, Reschedule(not_before=when, actor=actor, note=note)
        )

    async def extend_expiry(
        self, request_id: uuid.UUID, expires_at: datetime, note: str, actor: str = "operator"
    ) -> datetime:
        """Move an expiring record's time (checked as at accept: 422) through its RecordExpiryWorkflow;
        IllegalTransition (409) when no expiry waits. Answers the new time."""
        request = await self._steerable(request_id)
        if request.expires_at is None:
            raise IllegalTransition(str(request_id), "this request set no expiry (expires_at)")
        when = check_expires_at(expires_at, datetime.now(UTC))
        assert when is not None
        if request.status != RequestStatus.COMPLETED:
            raise IllegalTransition(
                str(request_id),
                f"the record is not provisioned yet ({request.status}): extend it once COMPLETED",
            )
        try:
            await self.gateway.extend_expiry(
                str(request_id), ExtendExpiry(expires_at=when, actor=actor, note=note)
            )
        except UpdateRefused as refused:
            raise IllegalTransition(str(request_id), refused.reason) from refused
        except WorkflowNotFound as gone:
            raise IllegalTransition(
                str(request_id), "no expiry is waiting: the record expired or was replaced"
            ) from gone
        log.info("expiry moved to %s by %s", when.isoformat(), actor)
        return when

    async def owner_of(self, domain: str, zones: list[str]) -> str | None:
        """The account that owns `domain` now (None: nobody), read as every door reads it."""

        def read() -> str | None:
            try:
                zone = name_text(zone_of(dns.name.from_text(domain), zones))
            except (InvalidRequest, dns.exception.DNSException):
                zone = ""
            with self.engine.connect() as conn:
                found = owners.owner_of(conn, domain, zone)
            return None if found is None else found.account_id

        try:
            return await asyncio.to_thread(read)
        except OperationalError as error:
            raise ServiceUnavailable.postgresql() from error

    async def update_status(
        self, request_id: uuid.UUID, status: RequestStatus, message: str, actor: str = "operator"
    ) -> None:
        """Signal the running workflow (API v1); a finished one cannot change any more (RequestFinished)."""
        request, _record = await self.get(request_id)
        if RequestStatus(request.status).is_terminal:  # its workflow may take a moment more to end
            raise RequestFinished(str(request_id), request.status)
        bind_request_id(str(request_id))
        workflow_id = self._workflow_id(request)
        try:
            if not await self._queued_first(request, lambda: self.gateway.is_running(workflow_id)):
                raise RequestFinished(str(request_id), request.status)
            await self.gateway.send_status(
                workflow_id, StatusChange(status=status.value, message=message, actor=actor)
            )
        except WorkflowNotFound as gone:
            raise RequestFinished(str(request_id), request.status) from gone
        log.info("status %s sent to the workflow by %s", status, actor)

    async def _steerable(self, request_id: uuid.UUID) -> DnsRequest:
        request, _record = await self.get(request_id)
        bind_request_id(str(request_id))
        return request

    async def _send(self, request: DnsRequest, update: Callable[[str, M], Awaitable[str]], message: M) -> str:
        """`message` to the request's workflow as an Update (one of the gateway's); the status it led
        to (logged with the message), or the refusal the caller answers with (`_refusal`)."""
        workflow_id = self._workflow_id(request)
        try:
            result = await self._queued_first(request, lambda: update(workflow_id, message))
        except (UpdateRefused, WorkflowNotFound) as error:
            raise self._refusal(request, error) from error
        log.info("%s -> %s", message, result)
        return result

    async def _queued_first(self, request: DnsRequest, call: Callable[[], Awaitable[T]]) -> T:
        """`call` on the request's workflow; if there is none because its start is still queued,
        start it from its entry and call again (an accepted request is never "not found")."""
        try:
            return await call()
        except WorkflowNotFound:
            if self.starter is None or not await self.starter.start_queued(str(request.id)):
                raise
        return await call()

    @staticmethod
    def _workflow_id(request: DnsRequest) -> str:
        return request.workflow_id or workflow_id_for(str(request.id))

    @staticmethod
    def _check_not_approved_yet(request: DnsRequest, key_id: str) -> None:
        """An approver approves once: a request that needs several approvals needs several people.
        Read from the timeline, where the workflow records each counted approval with its key; the
        workflow does not count a second one either (two at once both pass here)."""
        if key_id and any(entry.get("approver") == key_id for entry in request.log_messages or []):
            raise AlreadyApproved(
                str(request.id), "this API key approved the request already; another approver must"
            )

    @staticmethod
    def _check_four_eyes(request: DnsRequest, by: tuple[str, str] | None) -> None:
        """Nobody approves their own request: not the key that submitted it, nor anyone of the
        submitting account. A caller the API cannot name (`by` None) cannot approve either."""
        if by is None:
            raise FourEyes(str(request.id), "four eyes: the approver must be named by an API key")
        key_id, account_id = by
        if key_id and key_id == (request.config or {}).get("submitted_by"):
            raise FourEyes(str(request.id), "four eyes: the key that submitted the request cannot approve it")
        if account_id == request.account_id:
            raise FourEyes(
                str(request.id),
                f"four eyes: {account_id} submitted the request; another account must approve it",
            )

    @staticmethod
    def _refusal(request: DnsRequest, error: UpdateRefused | WorkflowNotFound) -> Exception:
        """Refused by the workflow's state: IllegalTransition; its workflow has ended: RequestFinished."""
        if isinstance(error, UpdateRefused):
            return IllegalTransition(str(request.id), error.reason)
        return RequestFinished(str(request.id), request.status)
