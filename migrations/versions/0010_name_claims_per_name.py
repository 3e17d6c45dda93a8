"""Name claims: a request may hold several names (its forward name and its PTR names)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

A request whose PTR changes ride in its own apply (workflows/ptrs.py) takes its turn on each PTR name
too; its next status releases them all. The unique constraint on `request_id` becomes an index.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("name_claims_request_id_key", "name_claims", type_="unique")
    op.create_index("ix_name_claims_request_id", "name_claims", ["request_id"])


def downgrade() -> None:
    # Claims are short-lived: a request keeps only the claim on its own name.
    op.execute(
        "DELETE FROM name_claims AS c USING dns_requests AS r"
        " WHERE c.request_id = r.id AND c.domain <> r.domain"
    )
    op.drop_index("ix_name_claims_request_id", table_name="name_claims")
    op.create_unique_constraint("name_claims_request_id_key", "name_claims", ["request_id"])
