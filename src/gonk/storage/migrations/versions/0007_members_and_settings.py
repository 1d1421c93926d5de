"""Members with roles, and dataset settings (issue 16: roles and visibility in the log).

`members`: a dataset's members besides its owners and their role (viewer, annotator, reviewer),
derived from MemberSetEvent and MemberRemoveEvent. `dataset_settings`: its visibility
(internal, private) and whether an accept needs another reviewer than the change's author,
derived from DatasetSettingsEvent; no row means the defaults. Existing datasets have neither
event, so both start empty: every dataset stays internal, as before.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), primary_key=True),
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )
    op.create_table(
        "dataset_settings",
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), primary_key=True),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("require_other_reviewer", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dataset_settings")
    op.drop_table("members")
