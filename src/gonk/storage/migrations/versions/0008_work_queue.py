"""The work queue (issue 16): leases on tasks, and objects' priorities and assignees.

`queue_leases`: who holds which task (annotating an object version against a schema, or
reviewing an event) until when; one live lease per task (a unique index). `object_queue`: an
object's priority (higher first; no row: 0) and the user it is assigned to. Neither is derived
from the log: they are the queue's working state, and start empty.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_leases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("target_uuid", sa.String(36), nullable=False),
        sa.Column("target_version", sa.BigInteger, nullable=False),
        sa.Column("schema_uuid", sa.String(36), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("one_lease_per_task", "queue_leases",
                    ["dataset_id", "task", "target_uuid", "schema_uuid"], unique=True)
    op.create_table(
        "object_queue",
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), primary_key=True),
        sa.Column("object_uuid", sa.String(36), primary_key=True),
        sa.Column("priority", sa.Float, nullable=False),
        sa.Column("assignee", sa.String(64), nullable=True),
    )
    op.create_index("objects_by_priority", "object_queue", ["dataset_id", "priority"])


def downgrade() -> None:
    op.drop_table("object_queue")
    op.drop_table("queue_leases")
