"""Indexes for finding things: lists filtered by the newest version's name (exact or prefix),
annotations by their schema, and the events awaiting review. On PostgreSQL, `versions.name`
compares byte by byte (the "C" collation), so that a name prefix is a range of its index
whatever the database's locale; SQLite already compares that way.

Only indexes are built (and, on PostgreSQL, the column's collation changed, which rewrites no
row): no event, version or byte changes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (name, table, columns, the partial index's condition): see storage/tables.py
INDEXES = [
    ("versions_by_name", "versions", ["dataset_id", "kind", "name", "created_seq"],
     "name IS NOT NULL"),
    ("versions_by_schema", "versions", ["dataset_id", "schema_uuid", "created_seq"],
     "schema_uuid IS NOT NULL"),
    ("events_awaiting_review", "events", ["dataset_id", "seq"], "review = 'PENDING'"),
]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        op.execute('ALTER TABLE versions ALTER COLUMN name TYPE VARCHAR(255) COLLATE "C"')
    for name, table, columns, condition in INDEXES:
        op.create_index(name, table, columns, sqlite_where=sa.text(condition),
                        postgresql_where=sa.text(condition))


def downgrade() -> None:
    for name, table, _, _ in INDEXES:
        op.drop_index(name, table_name=table)
    if _postgresql():
        op.execute('ALTER TABLE versions ALTER COLUMN name TYPE VARCHAR(255) COLLATE "default"')
