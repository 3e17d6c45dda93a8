"""Expiring records: a create or update may carry `expires_at`

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

RecordExpiryWorkflow (workflows/expiry.py) warns before this time and starts a delete at it; an
extension moves it. Null for every request that does not expire, so existing rows need nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dns_requests", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("dns_requests", "expires_at")
