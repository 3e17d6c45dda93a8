"""Granted subtrees: an operator's grant of a name (and what is below it) outlives its records

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

Ownership now follows the tree of names (dnsorch/dns/ownership.py). A row a create made is
released with the last record in its subtree; a granted one stays until an operator moves it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "name_owners", sa.Column("granted", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("name_owners", "granted")
