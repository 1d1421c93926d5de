"""Alembic's environment for Gonk: always run from `gonk.storage.revision` with an open
connection (`gonk-api init` and `gonk-api migrate`), never from the `alembic` command line."""

from __future__ import annotations

from alembic import context

from gonk.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
