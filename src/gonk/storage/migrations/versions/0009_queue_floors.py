"""The work queue's speed (issue 16): `annotate_floors`, where each schema's annotate claims
start looking (see storage/tables.py), and an index on leases by their end, so that the expired
leases every claim deletes are found without reading every lease (on the end alone: an index
starting with dataset_id drew PostgreSQL's lookups by task away from one_lease_per_task). Both are working state: the
table starts empty (a missing row means "from the first object"). And object_queue loses its
index by priority: claims look its objects up by their primary key, and PostgreSQL, with stale
statistics, used the other index (one that also starts with dataset_id) for those lookups.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("leases_by_expiry", "queue_leases", ["expires_at"])
    op.drop_index("objects_by_priority", "object_queue")
    op.create_table(
        "annotate_floors",
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), primary_key=True),
        sa.Column("schema_uuid", sa.String(36), primary_key=True),
        sa.Column("floor_seq", sa.BigInteger, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("annotate_floors")
    op.drop_index("leases_by_expiry", "queue_leases")
    op.create_index("objects_by_priority", "object_queue", ["dataset_id", "priority"])
