"""Workflow starts name their task queue: a sweep takes only its own queue's

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

Deployments (or test stacks) may share one database while their workers poll other task queues; a
queued start must be started on the queue of the process that accepted it, never on a sweeper's
own. Entries queued before this column have no queue (''); any sweeper may take those, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("workflow_starts", sa.Column("task_queue", sa.Text(), nullable=False, server_default=""))
    op.drop_index("ix_workflow_starts_next_attempt_at", table_name="workflow_starts")
    op.create_index(
        "ix_workflow_starts_task_queue_next_attempt_at", "workflow_starts", ["task_queue", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_workflow_starts_task_queue_next_attempt_at", table_name="workflow_starts")
    op.create_index("ix_workflow_starts_next_attempt_at", "workflow_starts", ["next_attempt_at"])
    op.drop_column("workflow_starts", "task_queue")
