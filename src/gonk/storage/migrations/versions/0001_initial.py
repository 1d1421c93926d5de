"""The first schema: users, datasets, the event log and its projections.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _dataset_id() -> sa.Column:
    return sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("head_integrity", sa.String(64), nullable=False),
        sa.Column("event_count", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "events",
        _dataset_id(),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("integrity", sa.String(64), nullable=False),
        sa.Column("review", sa.String(8), nullable=True),
        sa.Column("target_uuid", sa.String(36), nullable=True),
        sa.Column("target_version", sa.BigInteger, nullable=True),
    )
    op.create_index("events_by_target", "events", ["dataset_id", "target_uuid", "target_version"])
    op.create_table(
        "items",
        _dataset_id(),
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("created_seq", sa.BigInteger, nullable=False),
        sa.Column("versions", sa.BigInteger, nullable=False),
    )
    op.create_index("items_in_order", "items", ["dataset_id", "kind", "created_seq"])
    op.create_index("schemas_by_name", "items", ["dataset_id", "kind", "name"])
    op.create_table(
        "versions",
        _dataset_id(),
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_seq", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("format", sa.String(255), nullable=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("schema_uuid", sa.String(36), nullable=True),
        sa.Column("schema_version", sa.BigInteger, nullable=True),
        sa.Column("cp", sa.Boolean, nullable=False),
        sa.Column("cr", sa.Boolean, nullable=False),
        sa.Column("dp", sa.Boolean, nullable=False),
        sa.Column("da", sa.Boolean, nullable=False),
    )
    op.create_index("versions_by_hash", "versions", ["dataset_id", "kind", "hash"])
    op.create_index("versions_in_order", "versions",
                    ["dataset_id", "kind", "created_seq", "version"])
    op.create_table(
        "annotation_links",
        _dataset_id(),
        sa.Column("annotation_uuid", sa.String(36), primary_key=True),
        sa.Column("object_uuid", sa.String(36), primary_key=True),
        sa.Column("object_version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_index("links_by_object", "annotation_links",
                    ["dataset_id", "object_uuid", "object_version", "annotation_uuid"])
    op.create_table(
        "owners",
        _dataset_id(),
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("rank", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("owners", "annotation_links", "versions", "items", "events", "datasets",
                  "users"):
        op.drop_table(table)
