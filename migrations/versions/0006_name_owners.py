"""Name owners: each managed DNS name belongs to one account; operators' transfers are logged

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Names already served get the account of their oldest current record.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "name_owners",
        sa.Column("domain", sa.String(253), primary_key=True),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "name_transfers",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("from_account", sa.String(128), nullable=False),
        sa.Column("to_account", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_name_transfers_domain", "name_transfers", ["domain", "at"])
    op.execute(
        """
        INSERT INTO name_owners (domain, account_id, since)
        SELECT DISTINCT ON (record.domain) record.domain, request.account_id, record.provisioned_at
          FROM dns_records AS record JOIN dns_requests AS request ON request.id = record.request_id
         WHERE record.deleted_at IS NULL
         ORDER BY record.domain, record.provisioned_at
        """
    )


def downgrade() -> None:
    op.drop_index("ix_name_transfers_domain", table_name="name_transfers")
    op.drop_table("name_transfers")
    op.drop_table("name_owners")
