"""API v2 bodies: operations beyond create, operator actions, lists with cursors, one error shape."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dnsorch.requests import AccountId, CreateDnsRequest, DnsResource, Note, ProvisionedRecord, printable
from dnsorch.store import DnsRecord, DnsRequest


class ResourceV2(DnsResource):
    target: str = Field(default="", max_length=4096, description="Not needed for delete.")


class RequestCreateV2(CreateDnsRequest):
    """`create`, `update` (new target/ttl for an existing name and type) or `delete`."""

    operation: Literal["create", "update", "delete"] = "create"
    resource: ResourceV2  # type: ignore[assignment]
    dry_run: bool = False
    """Plan only: the request ends COMPLETED after its plan (in `plan` and the timeline), DNS unchanged."""
    not_before: datetime | None = Field(
        default=None,
        description="A scheduled change: the request waits in SCHEDULED until this time (with a UTC"
        " offset, at most 366 days ahead), then is planned against what DNS serves then, approved if its"
        " policy says so and applied. `POST /api/v2/requests/{id}/schedule` moves it; `cancel` drops it.",
    )
    emergency: bool = Field(
        default=False,
        description="An emergency change: it passes freeze windows (a timeline line says so), and the"
        " approval policy always counts it as a risk (`emergency`), so an operator approves it first.",
    )
    ttl_dance: bool = Field(
        default=False,
        description="An update only: lower the served TTL to TTL_DANCE_SHORT_TTL, wait out the old TTL,"
        " apply the change at the short TTL, verify it everywhere, then restore the request's `ttl`. Each"
        " step is on the timeline; a cancel in the middle restores the old TTL. Updates whose served TTL is"
        " over TTL_DANCE_THRESHOLD_SECONDS (when set) dance unasked.",
    )
    expires_at: datetime | None = Field(
        default=None,
        description="An expiring record (create or update only; with a UTC offset, ahead of now, at most 366"
        " days ahead): an `EXPIRING` event goes out RECORD_EXPIRY_WARNING_SECONDS before it, and at this time"
        " a delete request (source `expiry`, no approval) removes the record, unless a later request has"
        " changed or deleted it meanwhile. `POST /api/v2/dns/requests/{id}/expiry` moves it.",
    )


class ActionBody(BaseModel):
    """An operator's action on a request, with the note that goes on its timeline."""

    model_config = ConfigDict(extra="forbid")

    note: Note = ""


class ScheduleBody(ActionBody):
    """Body of `POST /api/v2/requests/{id}/schedule`: the new time of a SCHEDULED request."""

    not_before: datetime


class ExpiryBody(ActionBody):
    """Body of `POST /api/v2/dns/requests/{id}/expiry`: the record's new expiry time."""

    expires_at: datetime


class ExpiryResult(BaseModel):
    request_id: uuid.UUID
    expires_at: datetime
    detail: str


class ActionResult(BaseModel):
    request_id: uuid.UUID
    status: str
    detail: str


class RequestSummary(BaseModel):
    request_id: uuid.UUID
    operation: str
    status: str
    record_type: str
    domain: str
    target: str
    account_id: str
    source: str
    created_at: datetime
    updated_at: datetime
    not_before: datetime | None = None
    """When a scheduled change is due (its latest time: a reschedule is on the timeline)."""

    @classmethod
    def of(cls, row: DnsRequest) -> RequestSummary:
        return cls(
            request_id=row.id, not_before=_latest_schedule(row), **row.model_dump(include=_SUMMARY_FIELDS)
        )


_SUMMARY_FIELDS = {
    "operation",
    "status",
    "record_type",
    "domain",
    "target",
    "account_id",
    "source",
    "created_at",
    "updated_at",
}


class RequestDetail(RequestSummary):
    comment: str | None
    config: dict[str, Any]
    workflow_id: str | None
    message_key: str | None
    record: ProvisionedRecord | None
    timeline: list[dict[str, Any]]
    plan: dict[str, Any] | None = None
    """What applying the change does (or did) to what the server served: the latest plan."""
    dry_run: bool = False
    propagation: dict[str, float] | None = None
    """Seconds each authoritative server took to serve the change (`name (address)`), once verified."""
    expires_at: datetime | None = None
    """When the record this request provisions expires (its latest time: an extension moves it)."""

    @classmethod
    def of_row(cls, row: DnsRequest, record: DnsRecord | None) -> RequestDetail:
        return cls(
            **RequestSummary.of(row).model_dump(),
            comment=row.comment,
            config=row.config,
            workflow_id=row.workflow_id,
            message_key=row.message_key,
            record=ProvisionedRecord.model_validate(record, from_attributes=True) if record else None,
            timeline=row.log_messages,
            plan=next((entry["plan"] for entry in reversed(row.log_messages) if "plan" in entry), None),
            dry_run=bool(row.config.get("dry_run")),
            propagation=next(
                (entry["propagation"] for entry in reversed(row.log_messages) if "propagation" in entry), None
            ),
            expires_at=row.expires_at,
        )


class RequestPage(BaseModel):
    items: list[RequestSummary]
    next_cursor: str | None


class RecordOut(ProvisionedRecord):
    request_id: uuid.UUID
    account_id: str
    expires_at: datetime | None = None
    """When this record expires (a delete request removes it then), if its request set a time."""


class RecordPage(BaseModel):
    items: list[RecordOut]


class TransferBody(BaseModel):
    """An operator's transfer of a name to another account."""

    model_config = ConfigDict(extra="forbid")

    account_id: AccountId
    note: Note = ""


class TransferOut(BaseModel):
    from_account: str
    to_account: str
    actor: str
    note: str
    at: datetime


class NameOut(BaseModel):
    """A managed name: the account it belongs to, since when, and how it got there."""

    domain: str
    account_id: str
    since: datetime
    transfers: list[TransferOut]


def _latest_schedule(row: DnsRequest) -> datetime | None:
    """The accepted `not_before`, or the time of the latest reschedule on the timeline."""
    for entry in reversed(row.log_messages):
        if entry.get("step") == "schedule" and entry.get("not_before"):
            return datetime.fromisoformat(entry["not_before"])
    value = row.config.get("not_before")
    return datetime.fromisoformat(value) if value else None


class FreezeBody(BaseModel):
    """Body of `POST /api/v2/freezes`: a freeze window (operators only)."""

    model_config = ConfigDict(extra="forbid")

    zone: str | None = Field(
        default=None, max_length=253, description="A managed zone; omitted or null: every zone."
    )
    starts_at: datetime | None = Field(default=None, description="With a UTC offset; omitted: now.")
    ends_at: datetime = Field(
        description="With a UTC offset, ahead of now, at most 366 days after starts_at."
    )
    reason: str = Field(min_length=1, max_length=1024, description="Why: on every request the window holds.")

    @field_validator("zone")
    @classmethod
    def _zone_printable(cls, value: str | None) -> str | None:
        return None if value is None else printable(value)

    @field_validator("reason")
    @classmethod
    def _reason_printable(cls, value: str) -> str:
        return printable(value)


class FreezeOut(BaseModel):
    id: uuid.UUID
    zone: str | None
    """None: every zone."""
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None
    """When an operator ended it early (null: it runs to `ends_at`)."""


class FreezePage(BaseModel):
    items: list[FreezeOut]
