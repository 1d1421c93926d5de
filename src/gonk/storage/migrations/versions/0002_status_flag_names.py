"""Spell out the status flags of `versions`: cp, cr, dp, da become create_pending,
create_rejected, delete_pending, delete_accepted (the names domain.rules.Version gives them).

A rename in place on both databases (SQLite 3.25+ and PostgreSQL): no row is copied, so the
upgrade takes the same time on a dataset of any size.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RENAMES = [("cp", "create_pending"), ("cr", "create_rejected"), ("dp", "delete_pending"),
           ("da", "delete_accepted")]


def upgrade() -> None:
    for old, new in RENAMES:
        op.execute(f"ALTER TABLE versions RENAME COLUMN {old} TO {new}")


def downgrade() -> None:
    for old, new in RENAMES:
        op.execute(f"ALTER TABLE versions RENAME COLUMN {new} TO {old}")
