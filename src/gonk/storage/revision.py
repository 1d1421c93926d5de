"""The revision of the database's tables (their layout, not JSON schemas), created and upgraded
with Alembic.

`gonk-api init` brings an empty database to the newest revision; `gonk-api migrate` upgrades an
existing one; every other command refuses a database whose schema is not the newest, with a
message that says to run `migrate`. Migrations live in `migrations/versions/`, one file per
revision, and never change once released: a database is only ever moved forward, inside one
transaction, so an upgrade that fails leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect

from .database import Database, unavailable_as_error

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only where a migration runs (init, migrate) or a revision is unknown:
# every other command checks the revision with one query, and starts about 0.15 s sooner.

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Databases made by Gonk 0.2 before migrations existed have every table of revision 0001 but no
# alembic_version table; `migrate` adopts them (see _adopt_unversioned).
FIRST_REVISION = "0001"

EMPTY, CURRENT, OUTDATED, UNVERSIONED, NEWER = (
    "empty", "current", "outdated", "unversioned", "newer")


def _config(conn: Connection | None = None) -> Config:
    """Alembic's configuration; `conn` for commands that run migrations (env.py uses it)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def head_revision() -> str:
    """The newest revision. Revisions are numbered 0001, 0002, ... and each file of
    migrations/versions/ starts with its revision's number, so the newest is the highest
    (tests/integration/test_migrate_and_copy.py checks that this is Alembic's own head)."""
    files = (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    return max(path.name[:4] for path in files)


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def status(database: Database) -> str:
    """EMPTY (no Gonk tables), CURRENT, OUTDATED (run migrate), UNVERSIONED (made before
    migrations existed: run migrate) or NEWER (made by a newer Gonk). DatabaseUnavailable if
    the database cannot be reached."""
    with unavailable_as_error(), database.read() as conn:
        tables = set(inspect(conn).get_table_names())
        if "users" not in tables:
            return EMPTY
        if "alembic_version" not in tables:
            return UNVERSIONED
        current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    if current == head_revision():
        return CURRENT
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())
    known = {rev.revision for rev in script.walk_revisions()}
    return OUTDATED if current in known else NEWER


def upgrade(database: Database,
            then: Callable[[Connection, str | None], None] | None = None
            ) -> tuple[str | None, str]:
    """Bring the tables to the newest revision in one transaction; returns (from, to).
    `then(conn, from)` runs in that same transaction once the tables are upgraded: the steps
    that Alembic's revisions cannot take, having no blob store (`gonk-api migrate` fills
    annotation_labels from the annotations' bytes), so that either all of it is done or none.
    DatabaseUnavailable if the database cannot be reached or refuses the change."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with unavailable_as_error(), database.write() as conn:
        tables = set(inspect(conn).get_table_names())
        before = MigrationContext.configure(conn).get_current_revision()
        if "users" in tables and "alembic_version" not in tables:
            _adopt_unversioned(conn)
        command.upgrade(_config(conn), "head")
        after = MigrationContext.configure(conn).get_current_revision()
        if then is not None:
            then(conn, before)
    return before, after or head_revision()


def older_than(found: str | None, wanted: str) -> bool:
    """A database at revision `found` (None: unversioned or empty) had not reached `wanted`
    (revisions are numbered 0001, 0002, ...)."""
    return found is None or found < wanted


def _adopt_unversioned(conn: Connection) -> None:
    """A database from before migrations: its tables are revision 0001's, except that early
    builds had a narrower index of annotation links. Rebuild that index, then record 0001."""
    indexes = {ix["name"]: ix["column_names"]
               for ix in inspect(conn).get_indexes("annotation_links")}
    wanted = ["dataset_id", "object_uuid", "object_version", "annotation_uuid"]
    if indexes.get("links_by_object") != wanted:
        if "links_by_object" in indexes:
            conn.exec_driver_sql("DROP INDEX links_by_object")
        conn.exec_driver_sql("CREATE INDEX links_by_object ON annotation_links "
                             "(dataset_id, object_uuid, object_version, annotation_uuid)")
    from alembic import command

    command.stamp(_config(conn), FIRST_REVISION)
