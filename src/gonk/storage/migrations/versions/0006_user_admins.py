"""Instance admins and deleted users (issue 16: users managed over the API).

`users.admin`: an admin lists, creates, rekeys and deletes users over the API. The earliest
user of an existing installation (the one `gonk-api init` made) becomes its admin, as `init`
makes the first user an admin from now on.

`users.deleted_at`: a deleted user's row stays (their name is in the logs and is never given to
anyone else); their key hash is replaced by one no key has, so their key stops working at once.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (SQLite takes a NOT NULL column with a default without a table rebuild)
    op.add_column("users", sa.Column("admin", sa.Boolean, nullable=False,
                                     server_default=sa.false()))
    op.add_column("users", sa.Column("deleted_at", sa.String(32), nullable=True))
    users = sa.table("users", sa.column("name", sa.String), sa.column("created_at", sa.String),
                     sa.column("admin", sa.Boolean))
    first = sa.select(users.c.name).order_by(users.c.created_at, users.c.name).limit(1)
    op.execute(users.update().where(users.c.name == first.scalar_subquery())
               .values(admin=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("admin")
