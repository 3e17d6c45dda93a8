"""Workflow starts: the outbox of request workflows accepted but not yet started

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

A request is accepted once its row and its entry here commit together; the accepting process then
starts the workflow and deletes the entry. An entry left behind (the process died, Temporal was
down) is started by a sweeper once `next_attempt_at` has passed (dnsorch/requests/starting.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_starts",
        sa.Column(
            "request_id",
            sa.Uuid(),
            sa.ForeignKey("dns_requests.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("input", postgresql.JSONB(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_workflow_starts_next_attempt_at", "workflow_starts", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_workflow_starts_next_attempt_at", table_name="workflow_starts")
    op.drop_table("workflow_starts")
