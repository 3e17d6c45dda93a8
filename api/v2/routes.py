"""v2 routes: operations, idempotent creates, operator actions, filtered lists, current records."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, status

from api.deps import AcceptDep, EngineDep, OperateDep, SettingsDep
from api.security import Caller, Forbidden, Operator, account_scope, check_account, visible_request
from api.v2.schemas import (
    ActionBody,
    ActionResult,
    ExpiryBody,
    ExpiryResult,
    NameOut,
    RecordOut,
    RecordPage,
    RequestCreateV2,
    RequestDetail,
    RequestPage,
    RequestSummary,
    ScheduleBody,
    TransferBody,
    TransferOut,
)
from dnsorch.contracts import NameNotManaged
from dnsorch.requests import ProvisionedRecord, StatusUpdate, queries
from dnsorch.store import Role, name_transfers

router = APIRouter(prefix="/dns")
ActionName = Literal["approve", "reject", "retry", "resolve", "fail", "cancel", "rollback", "let_through"]
FilterText = Annotated[str | None, Query(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]
"""A list filter: printable text (a NUL or control character is a 422 naming the parameter)."""
DomainPath = Annotated[str, Path(min_length=1, max_length=254, pattern=r"^[A-Za-z0-9_.-]+$")]


@router.post("/requests", response_model=RequestDetail, status_code=status.HTTP_202_ACCEPTED)
async def create_request(
    body: RequestCreateV2,
    accept: AcceptDep,
    caller: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=255, pattern=r"^[\x21-\x7e]+$")] = None,
) -> RequestDetail:
    """Accept a create, update or delete. The same Idempotency-Key and body answers the same request."""
    check_account(caller, body.context.account_id)
    accepted = await accept.create(
        body,
        source="api",
        operation=body.operation,
        idempotency_key=idempotency_key,
        dry_run=body.dry_run,
        not_before=body.not_before,
        submitted_by=caller.key_id,
        expires_at=body.expires_at,
        emergency=body.emergency,
        ttl_dance=body.ttl_dance,
    )
    request, record = await accept.read_accepted(accepted)
    return RequestDetail.of_row(request, record)


@router.get("/requests", response_model=RequestPage)
async def list_requests(
    engine: EngineDep,
    caller: Caller,
    status: FilterText = None,
    domain: FilterText = None,
    zone: FilterText = None,
    account_id: FilterText = None,
    source: FilterText = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
    cursor: FilterText = None,
) -> RequestPage:
    """Requests matching every filter, newest first. A submitter sees only its own account's."""
    if account_id is not None and not caller.sees_account(account_id):
        return RequestPage(items=[], next_cursor=None)
    account_id = account_scope(caller, account_id)
    filters = queries.RequestFilters(status, domain, zone, account_id, source, created_after, created_before)
    rows, next_cursor = await asyncio.to_thread(queries.list_requests, engine, filters, limit, cursor)
    return RequestPage(items=[RequestSummary.of(row) for row in rows], next_cursor=next_cursor)


@router.get("/requests/{request_id}", response_model=RequestDetail)
async def get_request(request_id: uuid.UUID, operate: OperateDep, caller: Caller) -> RequestDetail:
    """The request with its timeline: every step and every operator change (who, when, from, to)."""
    request, record = await visible_request(operate, request_id, caller)
    return RequestDetail.of_row(request, record)


@router.post("/requests/{request_id}/actions/{action}", response_model=ActionResult)
async def act_on_request(
    request_id: uuid.UUID,
    action: ActionName,
    operate: OperateDep,
    caller: Operator,
    body: ActionBody | None = None,
) -> ActionResult:
    """approve/reject (PENDING_APPROVAL), retry/resolve/fail/rollback (NEEDS_ATTENTION), let_through
    (FROZEN), cancel (before done).

    Refused with 409 when the request's state does not allow it; nothing is recorded then.
    """
    new_status = await operate.act(
        request_id,
        action,
        (body or ActionBody()).note,
        actor=caller.actor,
        by=(caller.key_id, caller.account_id),
    )
    return ActionResult(request_id=request_id, status=new_status, detail=f"{action} applied")


@router.post("/requests/{request_id}/schedule", response_model=ActionResult)
async def reschedule_request(
    request_id: uuid.UUID, body: ScheduleBody, operate: OperateDep, caller: Operator
) -> ActionResult:
    """Move a SCHEDULED request to another time (with a UTC offset, ahead of now); 409 in any other state."""
    new_status = await operate.reschedule(request_id, body.not_before, body.note, actor=caller.actor)
    return ActionResult(
        request_id=request_id, status=new_status, detail=f"scheduled for {body.not_before.isoformat()}"
    )


@router.post("/requests/{request_id}/expiry", response_model=ExpiryResult)
async def extend_expiry(
    request_id: uuid.UUID, body: ExpiryBody, operate: OperateDep, settings: SettingsDep, caller: Caller
) -> ExpiryResult:
    """Move an expiring record's expiry (and its warning): the owner's key or an operator's. 404 for
    another account's request, 403 once the name belongs to another account, 409 when no expiry is
    waiting (none was set, the request has not completed, or the record expired or was replaced),
    422 for a time that cannot be kept."""
    request, _record = await visible_request(operate, request_id, caller)
    if not caller.may(Role.OPERATOR):
        owner = await operate.owner_of(request.domain, settings.dns_zones)
        if owner is not None and owner != caller.account_id:
            raise Forbidden(
                f"{request.domain} belongs to another account now; its owner or an operator extends it"
            )
    when = await operate.extend_expiry(request_id, body.expires_at, body.note, actor=caller.actor)
    return ExpiryResult(request_id=request_id, expires_at=when, detail=f"expires at {when.isoformat()}")


@router.post("/requests/{request_id}/status", response_model=ActionResult)
async def set_request_status(
    request_id: uuid.UUID, body: StatusUpdate, operate: OperateDep, caller: Operator
) -> ActionResult:
    """A manual status, validated by the workflow (e.g. COMPLETED → IN_PROGRESS is refused with 409)."""
    new_status = await operate.set_status(request_id, body.status, body.message, actor=caller.actor)
    return ActionResult(request_id=request_id, status=new_status, detail=f"status set to {body.status}")


@router.get("/records", response_model=RecordPage)
async def list_records(
    engine: EngineDep,
    caller: Caller,
    domain: FilterText = None,
    zone: FilterText = None,
    record_type: FilterText = None,
    account_id: FilterText = None,
) -> RecordPage:
    """What is provisioned now (records no later update or delete replaced); a submitter's own only."""
    if account_id is not None and not caller.sees_account(account_id):
        return RecordPage(items=[])
    account_id = account_scope(caller, account_id)
    rows = await asyncio.to_thread(
        queries.list_records,
        engine,
        domain=domain,
        zone=zone,
        record_type=record_type,
        account_id=account_id,
    )
    items = [
        RecordOut(
            **ProvisionedRecord.model_validate(record, from_attributes=True).model_dump(),
            request_id=record.request_id,
            account_id=request.account_id,
            expires_at=request.expires_at,
        )
        for record, request in rows
    ]
    return RecordPage(items=items)


@router.get("/names/{domain}", response_model=NameOut)
async def get_name(domain: DomainPath, engine: EngineDep, caller: Caller) -> NameOut:
    """The account a managed name belongs to and its transfers; a submitter sees its own names only."""
    name = await asyncio.to_thread(name_transfers.get, engine, _normalised(domain))
    if not caller.sees_account(name.account_id):
        raise NameNotManaged(name.domain)  # another account's name looks like one nobody manages
    return _name_out(name)


@router.post("/names/{domain}/transfer", response_model=NameOut)
async def transfer_name(
    domain: DomainPath, body: TransferBody, engine: EngineDep, caller: Operator
) -> NameOut:
    """Give a managed name to another account (operators only); logged with who, when and why."""
    name = await asyncio.to_thread(
        name_transfers.transfer, engine, _normalised(domain), body.account_id, caller.actor, body.note
    )
    return _name_out(name)


@router.post("/names/{domain}/grant", response_model=NameOut)
async def grant_name(
    domain: DomainPath, body: TransferBody, engine: EngineDep, settings: SettingsDep, caller: Operator
) -> NameOut:
    """Give a subtree (the name and what is below it) to an account for good (operators only), even
    before it holds a record; logged like a transfer. 422 for a name DNS cannot hold or outside the
    managed zones."""
    subtree = name_transfers.grantable(domain, settings.dns_zones)
    name = await asyncio.to_thread(
        name_transfers.grant, engine, subtree, body.account_id, caller.actor, body.note
    )
    return _name_out(name)


def _normalised(domain: str) -> str:
    return domain.rstrip(".").lower()


def _name_out(name: name_transfers.ManagedName) -> NameOut:
    transfers = [TransferOut(**vars(t)) for t in name.transfers]
    return NameOut(domain=name.domain, account_id=name.account_id, since=name.since, transfers=transfers)
