"""operations (create/update/delete), idempotency keys, and deleted records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "dns_requests", sa.Column("operation", sa.String(16), nullable=False, server_default="create")
    )
    op.add_column("dns_requests", sa.Column("idempotency_key", sa.String(255), nullable=True))
    op.add_column("dns_requests", sa.Column("request_hash", sa.String(64), nullable=True))
    op.add_column("dns_records", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_dns_records_current",
        "dns_records",
        ["domain", "record_type"],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index("ix_dns_requests_created_id", "dns_requests", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_dns_requests_created_id", table_name="dns_requests")
    op.drop_index("ix_dns_records_current", table_name="dns_records")
    op.drop_column("dns_records", "deleted_at")
    op.drop_column("dns_requests", "request_hash")
    op.drop_column("dns_requests", "idempotency_key")
    op.drop_column("dns_requests", "operation")
