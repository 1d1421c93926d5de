"""One Gonk installation: a data directory, the database and the blob store it uses, opened.

Two URLs say where (the same for every command; command-line options override them):
- GONK_DATABASE_URL: `sqlite:///PATH` or `postgresql://user:password@host:port/database`
  (SQLAlchemy with the psycopg 3 driver). Default: SQLite at <data dir>/gonk.db.
- GONK_BLOB_URL: `file:///PATH` or `s3://bucket/prefix` (boto3, which reads its endpoint and
  credentials from the standard AWS_* variables). Default: files under <data dir>/blobs.
"""

from __future__ import annotations

import os
from pathlib import Path

from .domain.content import ValidatorCache
from .domain.errors import Unavailable
from .limits import Limits
from .storage import revision
from .storage.blobs import BlobStoreUnavailable, open_blob_store
from .storage.database import Connection, Database, DatabaseUnavailable, resolve_url, shown

DATA_DIR_ENV = "GONK_DATA_DIR"
DATABASE_URL_ENV = "GONK_DATABASE_URL"
BLOB_URL_ENV = "GONK_BLOB_URL"
DEFAULT_DATA_DIR = "gonk-data"


class StorageError(Exception):
    """A configuration or storage problem a person must fix; the message is one clear line."""


class NotInitialised(StorageError):
    def __init__(self, where: str) -> None:
        super().__init__(
            f"Gonk is not initialised in {where}: run `gonk-api init --username NAME` first "
            f"(or point --data-dir / {DATA_DIR_ENV}, or --database-url / {DATABASE_URL_ENV}, "
            "at an initialised installation).")


class AlreadyInitialised(StorageError):
    pass


class NeedsMigration(StorageError):
    pass


def resolve_data_dir(option: str | os.PathLike[str] | None) -> Path:
    """--data-dir, else $GONK_DATA_DIR, else ./gonk-data in the current working directory."""
    chosen = option or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().resolve()


def resolve_database_url(option: str | None, data_dir: Path) -> str:
    """--database-url, else $GONK_DATABASE_URL, else SQLite in the data directory; checked and
    given the driver Gonk uses (psycopg 3 for PostgreSQL)."""
    try:
        return resolve_url(option or os.environ.get(DATABASE_URL_ENV) or "", data_dir)
    except (ValueError, DatabaseUnavailable) as exc:
        raise StorageError(str(exc)) from None


def chosen_log_origin(option: str | None) -> str:
    """The origin a new log signing key gets (`init`, `migrate`): the option, else
    log_signing.default_origin; a StorageError if it cannot name a key."""
    from . import log_signing

    try:
        return log_signing.check_origin(option or log_signing.default_origin())
    except ValueError as exc:
        raise StorageError(str(exc)) from None


class Installation:
    """A data directory with the database and blob store it uses, opened: what every command
    and the web app work on. `open` one that is initialised, or `create` a new one."""

    def __init__(self, data_dir: Path, database_url: str | None = None,
                 blob_url: str | None = None) -> None:
        """`database_url` and `blob_url` as given (None: the data directory's defaults);
        see resolve_database_url and storage.blobs.open_blob_store."""
        self.data_dir = Path(data_dir)
        self.database_url = resolve_database_url(database_url, self.data_dir)
        self.blob_url = blob_url or os.environ.get(BLOB_URL_ENV) or ""
        try:
            self.db = Database(self.database_url)
            self.blobs = open_blob_store(self.blob_url, self.data_dir)
        except (ValueError, DatabaseUnavailable, BlobStoreUnavailable) as exc:
            raise StorageError(str(exc)) from None
        self.known_datasets: set[str] = set()  # datasets are never deleted: safe to remember
        try:
            self.limits = Limits.from_environment()
        except ValueError as exc:
            raise StorageError(str(exc)) from None
        self.validators = ValidatorCache(self.limits.schema_cache_bytes)

    def where(self) -> str:
        """The installation in words, for messages."""
        sqlite_file = self.db.sqlite_file
        if sqlite_file is not None and sqlite_file.parent == self.data_dir:
            database = str(self.data_dir)
        else:
            database = shown(self.database_url)
        return database

    def revision_status(self) -> str:
        """Where the database's tables stand (storage.revision: EMPTY, CURRENT, OUTDATED...); a
        StorageError if the database is unreachable."""
        sqlite_file = self.db.sqlite_file
        if sqlite_file is not None and not sqlite_file.is_file():
            return revision.EMPTY  # without creating the file (connecting would)
        try:
            return revision.status(self.db)
        except DatabaseUnavailable as exc:
            raise StorageError(f"Cannot use the database at {shown(self.database_url)}: "
                               f"{exc}") from None

    def component_problems(self) -> dict[str, str | None]:
        """Ask the database and the blob store a trivial question each (GET /health): for each
        component, None if it answered, else why not (for logs and operators)."""
        problems: dict[str, str | None] = {}
        for component, ping in (("database", self.db.ping), ("blob_store", self.blobs.ping)):
            try:
                ping()
                problems[component] = None
            except Unavailable as exc:
                problems[component] = exc.reason
        return problems

    def check_blobs(self) -> None:
        try:
            self.blobs.check()
        except BlobStoreUnavailable as exc:
            raise StorageError(str(exc)) from None

    @classmethod
    def open(cls, data_dir: Path, database_url: str | None = None,
             blob_url: str | None = None) -> Installation:
        """Open an initialised installation whose tables are current, or raise a StorageError
        (NotInitialised, NeedsMigration...), creating nothing."""
        installation = cls(data_dir, database_url, blob_url)
        state = installation.revision_status()
        if state == revision.EMPTY:
            raise NotInitialised(installation.where())
        if state in (revision.OUTDATED, revision.UNVERSIONED):
            raise NeedsMigration(f"The database at {installation.where()} was made by an older "
                                 "Gonk: run `gonk-api migrate` to upgrade it (every event and "
                                 "byte is kept).")
        if state == revision.NEWER:
            raise StorageError(f"The database at {installation.where()} was made by a newer "
                               "Gonk; upgrade this installation of Gonk to use it.")
        installation.check_blobs()
        return installation

    @classmethod
    def create(cls, data_dir: Path, database_url: str | None = None,
               blob_url: str | None = None, log_origin: str | None = None) -> Installation:
        """Create the tables in an empty database, with the log signing key (`log_origin`:
        its origin; None: log_signing.default_origin), and prepare the blob store."""
        from . import log_signing

        installation = cls(data_dir, database_url, blob_url)
        sqlite_file = installation.db.sqlite_file
        if sqlite_file is not None:
            sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        if installation.revision_status() != revision.EMPTY:
            raise AlreadyInitialised(
                f"{installation.where()} is already initialised; nothing was changed. Use "
                "`gonk-api users add NAME` to add users, or `gonk-api migrate` to upgrade.")
        origin = chosen_log_origin(log_origin)
        installation.check_blobs()

        def make_signing_key(conn: Connection, _before: str | None) -> None:
            log_signing.ensure_key(conn, origin)

        try:
            revision.upgrade(installation.db, make_signing_key)
        except DatabaseUnavailable as exc:
            raise StorageError(f"Cannot create Gonk's tables at "
                               f"{shown(installation.database_url)}: {exc}") from None
        installation.blobs.create()
        return installation

    def close(self) -> None:
        self.db.close()
