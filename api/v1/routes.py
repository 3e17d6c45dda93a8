"""v1 routes: the original service's contract (create, read, manual status)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from api.deps import AcceptDep, OperateDep
from api.security import Caller, Operator, check_account, visible_request
from dnsorch.requests import (
    CreateDnsRequest,
    CreateDnsResponse,
    DnsRequestOut,
    ProvisionedRecord,
    StatusUpdate,
    StatusUpdateResponse,
)

router = APIRouter(prefix="/dns")


@router.post("/create", response_model=CreateDnsResponse)
async def create_dns_request(body: CreateDnsRequest, accept: AcceptDep, caller: Caller) -> CreateDnsResponse:
    """Accept a DNS record request; provisioning continues in its workflow. Its source is `api`: the
    body's `context.source` is accepted for the original contract's sake and ignored."""
    check_account(caller, body.context.account_id)
    accepted = await accept.create(body, source="api", submitted_by=caller.key_id)
    return CreateDnsResponse(
        request_id=uuid.UUID(accepted.request_id),
        status=accepted.status,
        workflow_id=accepted.workflow_id,
    )


@router.get("/{request_id}", response_model=DnsRequestOut)
async def get_dns_request(request_id: uuid.UUID, operate: OperateDep, caller: Caller) -> DnsRequestOut:
    """The request's status, its timestamped log and, once provisioned, its record."""
    request, record = await visible_request(operate, request_id, caller)
    return DnsRequestOut(
        request_id=request.id,
        account_id=request.account_id,
        source=request.source,
        record_type=request.record_type,
        domain=request.domain,
        target=request.target,
        comment=request.comment,
        config=request.config,
        status=request.status,
        workflow_id=request.workflow_id,
        log_messages=request.log_messages,
        created_at=request.created_at,
        updated_at=request.updated_at,
        record=ProvisionedRecord.model_validate(record, from_attributes=True) if record else None,
    )


@router.post(
    "/update_status/{request_id}",
    response_model=StatusUpdateResponse,
    status_code=status.HTTP_202_ACCEPTED,
)
async def update_request_status(
    request_id: uuid.UUID, body: StatusUpdate, operate: OperateDep, caller: Operator
) -> StatusUpdateResponse:
    """Send the running workflow a manual status (operators); 409 once the request has finished."""
    await operate.update_status(request_id, body.status, body.message, actor=caller.actor)
    return StatusUpdateResponse(
        request_id=request_id,
        requested_status=body.status,
        detail="sent to the request's workflow, which records it in the request log",
    )
