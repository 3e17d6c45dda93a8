"""message key on requests, the request_events outbox, and the dead_letters ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dns_requests", sa.Column("message_key", sa.Text(), nullable=True))
    op.add_column("dns_requests", sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "request_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "request_id", sa.Uuid(), sa.ForeignKey("dns_requests.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("request_id", "sequence", name="uq_request_events_request_sequence"),
    )
    op.create_index(
        "ix_request_events_unpublished",
        "request_events",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("offset", sa.BigInteger(), primary_key=True),
        sa.Column("message_key", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "dead_lettered_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("dead_letters")
    op.drop_index("ix_request_events_unpublished", table_name="request_events")
    op.drop_table("request_events")
    op.drop_column("dns_requests", "event_seq")
    op.drop_column("dns_requests", "message_key")
