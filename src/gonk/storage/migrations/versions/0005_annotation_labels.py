"""Per-label counts of annotation versions, for dataset statistics (GET /datasets/D/stats).

`annotation_labels` holds, for each annotation version of a schema that declares a label kind
(`x-gonk-kind`), how many labels of each class it holds. It is created empty here: Alembic's
environment has no blob store, so the rows of the annotation versions already stored are
written by `gonk-api migrate` itself (gonk/migration.py, gonk/stats.py `fill_labels`), reading
each such version's bytes once, in the same transaction as this revision.

Its primary key (dataset_id, annotation_uuid, annotation_version, position) is the index the
statistics use: they walk the dataset's annotation versions in the content (versions_in_order)
and find each one's labels by this key. The label itself is in no index (it may be long).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotation_labels",
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), primary_key=True),
        sa.Column("annotation_uuid", sa.String(36), primary_key=True),
        sa.Column("annotation_version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("label_json", sa.Text, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("annotation_labels")
