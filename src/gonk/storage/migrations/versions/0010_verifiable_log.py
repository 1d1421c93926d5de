"""The verifiable log (issue 17): each dataset's Merkle tree (`merkle_nodes`), the installation's
log signing key (`log_keys`) and each release's signed checkpoint (`releases.checkpoint`).

The trees of existing datasets are built here, one pass over each log (storage/merkle.py). The
key is made after the upgrade, by `init` or `migrate` (log_signing.ensure_key), which then signs
the checkpoints of existing releases: a migration has no origin to give the key.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gonk.storage import merkle

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merkle_nodes",
        sa.Column("dataset_id", sa.Integer, sa.ForeignKey("datasets.id"), primary_key=True),
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "log_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("private_key", sa.LargeBinary(32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.add_column("releases", sa.Column("checkpoint", sa.Text, nullable=True))
    conn = op.get_bind()
    for (dataset_id,) in conn.execute(sa.text("SELECT id FROM datasets ORDER BY id")).all():
        merkle.build(conn, dataset_id, merkle.event_leaves(conn, dataset_id))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("checkpoint")
    op.drop_table("log_keys")
    op.drop_table("merkle_nodes")
