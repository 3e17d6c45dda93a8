"""Freeze windows: operators hold requests in a zone, or in every zone, for a while

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

A request accepted during a window waits in FROZEN until it ends (workflows/freeze.py). A NULL zone
freezes every zone; `cancelled_at` is set when an operator ends a window early.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "freeze_windows",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("zone", sa.String(253), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_freeze_windows_ends_at", "freeze_windows", ["ends_at"])


def downgrade() -> None:
    op.drop_index("ix_freeze_windows_ends_at", table_name="freeze_windows")
    op.drop_table("freeze_windows")
