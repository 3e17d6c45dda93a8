"""Request and response bodies: the original service's v1 contract, kept field for field."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dnsorch.contracts import RequestStatus

_MAX_EXTRA_KEYS = 20
_MAX_EXTRA_STRING = 256


def printable(value: str, *, allow_newlines: bool = False) -> str:
    allowed = {"\n", "\t", "\r"} if allow_newlines else set()
    if any((ord(ch) < 0x20 and ch not in allowed) or ord(ch) == 0x7F for ch in value):
        raise ValueError("must not contain control characters")
    return value


class RecordConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl: int = Field(default=300, description="Time to live in seconds (1 to 604800).")
    priority: int | None = Field(default=None, description="Preference of MX and SRV records.")
    extra_config: dict[str, Any] = Field(
        default_factory=dict,
        description="Type-specific extras: SRV takes `port` (required) and `weight` (default 0).",
    )

    @field_validator("extra_config")
    @classmethod
    def _flat_scalars(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > _MAX_EXTRA_KEYS:
            raise ValueError(f"at most {_MAX_EXTRA_KEYS} keys")
        for key, item in value.items():
            printable(key)
            if item is not None and not isinstance(item, str | int | float | bool):
                raise ValueError(f"{key!r} must be a string, number, boolean or null")
            if isinstance(item, str):
                if len(item) > _MAX_EXTRA_STRING:
                    raise ValueError(f"{key!r} is longer than {_MAX_EXTRA_STRING} characters")
                printable(item)
        return value


class RequestContext(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=128)
    source: str = Field(default="api", pattern=r"^[a-z][a-z0-9_-]{0,31}$")

    @field_validator("account_id")
    @classmethod
    def _account_is_printable(cls, value: str) -> str:
        return printable(value)


class DnsResource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_type: str = Field(description="A, AAAA, CNAME, MX, TXT or SRV.", max_length=16)
    domain: str = Field(description="Fully qualified name inside a managed zone.", max_length=300)
    target: str = Field(description="The value, checked per record type.", max_length=4096)
    comment: str | None = Field(default=None, max_length=1024)
    config: RecordConfig = Field(default_factory=RecordConfig)

    @field_validator("comment")
    @classmethod
    def _comment_is_printable(cls, value: str | None) -> str | None:
        return None if value is None else printable(value, allow_newlines=True)


class CreateDnsRequest(BaseModel):
    """Body of `POST /api/v1/dns/create` (and of a Kafka message)."""

    model_config = ConfigDict(extra="forbid")

    context: RequestContext
    resource: DnsResource


class CreateDnsResponse(BaseModel):
    request_id: uuid.UUID
    status: RequestStatus
    workflow_id: str


class StatusUpdate(BaseModel):
    """Body of `POST /api/v1/dns/update_status/{request_id}`."""

    model_config = ConfigDict(extra="forbid")

    status: RequestStatus
    message: str = Field(default="", max_length=1024)

    @field_validator("message")
    @classmethod
    def _message_is_printable(cls, value: str) -> str:
        return printable(value, allow_newlines=True)


class StatusUpdateResponse(BaseModel):
    request_id: uuid.UUID
    requested_status: RequestStatus
    detail: str


class ProvisionedRecord(BaseModel):
    record_type: str
    domain: str
    target: str
    ttl: int
    priority: int | None
    comment: str | None
    provisioned_at: datetime


class DnsRequestOut(BaseModel):
    request_id: uuid.UUID
    account_id: str
    source: str
    record_type: str
    domain: str
    target: str
    comment: str | None
    config: dict[str, Any]
    status: str
    workflow_id: str | None
    log_messages: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    record: ProvisionedRecord | None = None
