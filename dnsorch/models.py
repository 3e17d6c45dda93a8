"""SQLModel tables: the original service's `dns_requests` and `dns_records`, kept as they were."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Text, func
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
    __table_args__ = (Index("ix_dns_records_domain_type", "domain", "record_type"),)

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
