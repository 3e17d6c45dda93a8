"""SQLModel tables: the original service's `dns_requests` and `dns_records`, kept as they were."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class DnsRequest(SQLModel, table=True):
    """One request from REST or Kafka, its status and its timestamped log."""

    __tablename__ = "dns_requests"
    __table_args__ = (
        Index("ix_dns_requests_status", "status"),
        Index("ix_dns_requests_account_created", "account_id", "created_at"),
        Index("ix_dns_requests_domain", "domain"),
        Index("ix_dns_requests_created_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    account_id: str = Field(sa_column=Column(String(128), nullable=False))
    source: str = Field(sa_column=Column(String(32), nullable=False, server_default="api"))
    record_type: str = Field(sa_column=Column(String(16), nullable=False))
    domain: str = Field(sa_column=Column(String(253), nullable=False))
    target: str = Field(sa_column=Column(Text, nullable=False))
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    status: str = Field(sa_column=Column(String(32), nullable=False, server_default="PENDING"))
    log_messages: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    workflow_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True, unique=True))
    operation: str = Field(
        default="create", sa_column=Column(String(16), nullable=False, server_default="create")
    )
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    request_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    """SHA-256 of the canonical body, to tell a retry (same body) from a misuse of the same key."""
    message_key: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The Kafka message key a request arrived with, if any."""
    event_seq: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    """Sequence number of the request's latest status event (see RequestEvent)."""
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    """When the record this create or update provisions expires (RecordExpiryWorkflow); an extension
    moves it."""
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    updated_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class DnsRecord(SQLModel, table=True):
    """A record that the authoritative server was seen serving; at most one per request."""

    __tablename__ = "dns_records"
    __table_args__ = (
        Index("ix_dns_records_domain_type", "domain", "record_type"),
        Index("ix_dns_records_current", "domain", "record_type", postgresql_where=text("deleted_at IS NULL")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    request_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("dns_requests.id", ondelete="CASCADE"), nullable=False, unique=True)
    )
    record_type: str = Field(sa_column=Column(String(16), nullable=False))
    domain: str = Field(sa_column=Column(String(253), nullable=False))
    target: str = Field(sa_column=Column(Text, nullable=False))
    ttl: int = Field(nullable=False)
    priority: int | None = Field(default=None, nullable=True)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    provisioned_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    deleted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    """Set when a later update replaced this record or a delete removed it from DNS."""


class RequestEvent(SQLModel, table=True):
    """Transactional outbox: one row per status change, written with it, published to Kafka later."""

    __tablename__ = "request_events"
    __table_args__ = (
        UniqueConstraint("request_id", "sequence", name="uq_request_events_request_sequence"),
        Index("ix_request_events_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    request_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("dns_requests.id", ondelete="CASCADE"), nullable=False)
    )
    sequence: int = Field(nullable=False)
    status: str = Field(sa_column=Column(String(32), nullable=False))
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    published_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class WorkflowStart(SQLModel, table=True):
    """Outbox of workflow starts: written with the request's row, deleted once its workflow started."""

    __tablename__ = "workflow_starts"
    __table_args__ = (
        Index("ix_workflow_starts_task_queue_next_attempt_at", "task_queue", "next_attempt_at"),
    )

    request_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("dns_requests.id", ondelete="CASCADE"), primary_key=True)
    )
    input: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    """The workflow's ProvisioningInput, as Temporal's JSON payload converter encodes it."""
    queued_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    next_attempt_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    """A sweeper takes the entry from then on: after the starter's grace, or a failed attempt's pause."""
    attempts: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    task_queue: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    """The queue of the process that accepted it: only that queue's sweepers start it ('': any)."""


class DeadLetter(SQLModel, table=True):
    """A Kafka message sent to the dead-letter topic; a redelivery finds it here and is not sent twice."""

    __tablename__ = "dead_letters"

    topic: str = Field(sa_column=Column(String(255), primary_key=True))
    partition: int = Field(sa_column=Column(Integer, primary_key=True))
    offset: int = Field(sa_column=Column(BigInteger, primary_key=True))
    message_key: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    dead_lettered_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class ApiKey(SQLModel, table=True):
    """An API key: only its SHA-256 is stored, beside the account and role it acts for."""

    __tablename__ = "api_keys"

    id: str = Field(sa_column=Column(String(16), primary_key=True))
    """The key's public id, also its second part (`dnsorch_<id>_<secret>`), shown by `keys list`."""
    name: str = Field(sa_column=Column(String(128), nullable=False))
    account_id: str = Field(sa_column=Column(String(128), nullable=False))
    role: str = Field(sa_column=Column(String(16), nullable=False))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class NameClaim(SQLModel, table=True):
    """Which request may change a DNS name right now: one row per name, at most one holder.

    Taken by the apply activity before its change joins a batch, kept across the activity's
    retries, and deleted in the same transaction as the holder's next status (request_rows.append_step).
    A request may hold several names: its own and the PTR names its apply changes (workflows/ptrs.py).
    """

    __tablename__ = "name_claims"

    domain: str = Field(sa_column=Column(String(253), primary_key=True))
    request_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("dns_requests.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    claimed_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class NameOwner(SQLModel, table=True):
    """The account a managed DNS name belongs to: set by its first completed create or update,
    released when its last managed record is deleted, moved only by an operator's transfer."""

    __tablename__ = "name_owners"

    domain: str = Field(sa_column=Column(String(253), primary_key=True))
    account_id: str = Field(sa_column=Column(String(128), nullable=False))
    since: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    granted: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    """An operator granted the subtree: it stays with its account when its last record goes."""


class NameTransfer(SQLModel, table=True):
    """An operator moved a name to another account: who, when, from, to and why."""

    __tablename__ = "name_transfers"
    __table_args__ = (Index("ix_name_transfers_domain", "domain", "at"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    domain: str = Field(sa_column=Column(String(253), nullable=False))
    from_account: str = Field(sa_column=Column(String(128), nullable=False))
    to_account: str = Field(sa_column=Column(String(128), nullable=False))
    actor: str = Field(sa_column=Column(String(128), nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False, server_default=""))
    at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class FreezeWindow(SQLModel, table=True):
    """An operator's freeze: requests in `zone` (every zone when NULL) wait while it lasts."""

    __tablename__ = "freeze_windows"
    __table_args__ = (Index("ix_freeze_windows_ends_at", "ends_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    zone: str | None = Field(default=None, sa_column=Column(String(253), nullable=True))
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    cancelled_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    """An operator ended it early at this time (it holds nothing from then on)."""
