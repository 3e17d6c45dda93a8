"""Request and response bodies: the original service's v1 contract, kept field for field."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from dnsorch.contracts import InvalidRequest, RequestStatus
from dnsorch.dns import (
    MAX_EXTRA_KEY_LENGTH,
    MAX_EXTRA_KEYS,
    MAX_EXTRA_STRING,
    check_extra_config,
    text_problem,
)

# How OpenAPI documents extra_config: what `check_extra_config` accepts.
_EXTRA_CONFIG_SCHEMA: dict[str, Any] = {
    "maxProperties": MAX_EXTRA_KEYS,
    "propertyNames": {"minLength": 1, "maxLength": MAX_EXTRA_KEY_LENGTH},
    "additionalProperties": {
        "anyOf": [
            {"type": "string", "maxLength": MAX_EXTRA_STRING},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
        ]
    },
}


def printable(value: str, *, allow_newlines: bool = False) -> str:
    if problem := text_problem(value, allow_newlines=allow_newlines):
        raise ValueError(problem)
    return value


def _printable_lines(value: str) -> str:
    return printable(value, allow_newlines=True)


AccountId = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(printable)]
"""An account's id, as every body names it."""
Note = Annotated[str, Field(max_length=1024), AfterValidator(_printable_lines)]
"""Free text a person writes for the timeline (a note, a status message); newlines allowed."""


class RecordConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl: int = Field(default=300, description="Time to live in seconds (1 to 604800).")
    priority: int | None = Field(default=None, description="Preference of MX and SRV records.")
    extra_config: dict[str, Any] = Field(
        default_factory=dict,
        description="Type-specific extras: SRV takes `port` (required) and `weight` (default 0)."
        f" Flat: at most {MAX_EXTRA_KEYS} keys of up to {MAX_EXTRA_KEY_LENGTH}"
        f" characters; values are strings (up to {MAX_EXTRA_STRING} characters, no control"
        " characters), finite numbers, booleans or null.",
        json_schema_extra=_EXTRA_CONFIG_SCHEMA,
    )

    @field_validator("extra_config")
    @classmethod
    def _flat_scalars(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            return check_extra_config(value)
        except InvalidRequest as invalid:
            raise ValueError(invalid.reason) from None


class RequestContext(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: AccountId
    source: str = Field(
        default="api",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="Kept from the original contract, and ignored: a request's source is the door it"
        " came through (`api` for REST, `kafka` for the consumer), never what its body says.",
        json_schema_extra={"deprecated": True},
    )


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
    message: Note = ""


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
