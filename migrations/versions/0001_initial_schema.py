"""dns_requests and dns_records, the original service's schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dns_requests",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(32), nullable=False, server_default="api"),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("config", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False, server_default="PENDING"),
        sa.Column("log_messages", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("workflow_id", sa.String(128), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_dns_requests_status", "dns_requests", ["status"])
    op.create_index("ix_dns_requests_account_created", "dns_requests", ["account_id", "created_at"])
    op.create_index("ix_dns_requests_domain", "dns_requests", ["domain"])

    op.create_table(
        "dns_records",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "request_id",
            sa.Uuid(),
            sa.ForeignKey("dns_requests.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("ttl", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "provisioned_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
    )
    op.create_index("ix_dns_records_domain_type", "dns_records", ["domain", "record_type"])


def downgrade() -> None:
    op.drop_index("ix_dns_records_domain_type", table_name="dns_records")
    op.drop_table("dns_records")
    op.drop_index("ix_dns_requests_domain", table_name="dns_requests")
    op.drop_index("ix_dns_requests_account_created", table_name="dns_requests")
    op.drop_index("ix_dns_requests_status", table_name="dns_requests")
    op.drop_table("dns_requests")
