"""One Gonk installation: where its metadata and bytes live, and the stores opened on them.

Two URLs say where (the same for every command; command-line options override them):
- GONK_DATABASE_URL: `sqlite:///PATH` or `postgresql://user:password@host:port/database`
  (SQLAlchemy with the psycopg 3 driver). Default: SQLite at <data dir>/gonk.db.
- GONK_BLOB_URL: `file:///PATH` or `s3://bucket/prefix` (boto3, which reads its endpoint and
  credentials from the standard AWS_* variables). Default: files under <data dir>/blobs.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from .storage import schema
from .storage.blobs import BlobStoreUnavailable, open_blob_store
from .storage.database import Database, sqlite_url

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
    raw = option or os.environ.get(DATABASE_URL_ENV) or ""
    if not raw:
        return sqlite_url(data_dir)
    try:
        url = make_url(raw)
    except ArgumentError:
        raise StorageError(f"Not a database URL: {raw!r} (expected sqlite:///PATH or "
                           "postgresql://user:password@host:port/database).") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise StorageError("PostgreSQL support is not installed: "
                               "pip install 'gonk[postgres]'.") from None
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise StorageError("A SQLite database URL needs a file: sqlite:///PATH.")
        return url.set(drivername="sqlite").render_as_string(hide_password=False)
    raise StorageError(f"Unsupported database {backend!r} in {shown(raw)}: Gonk runs on SQLite "
                       "(sqlite:///PATH) or PostgreSQL (postgresql://...).")


def shown(url: str | URL) -> str:
    """A URL fit for messages and logs: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return str(url)


def _reason(exc: BaseException) -> str:
    """The first line of a driver's error, without SQLAlchemy's wrapping."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


class Instance:
    def __init__(self, data_dir: Path, database_url: str | None = None,
                 blob_url: str | None = None) -> None:
        """`database_url` and `blob_url` as given (None: the data directory's defaults);
        see resolve_database_url and storage.blobs.open_blob_store."""
        self.data_dir = Path(data_dir)
        self.database_url = resolve_database_url(database_url, self.data_dir)
        self.blob_url = blob_url or os.environ.get(BLOB_URL_ENV) or ""
        try:
            self.db = Database(self.database_url)
        except NoSuchModuleError:
            raise StorageError(f"No driver for {shown(self.database_url)}.") from None
        try:
            self.blobs = open_blob_store(self.blob_url, self.data_dir)
        except ValueError as exc:
            raise StorageError(str(exc)) from None
        except BlobStoreUnavailable as exc:
            raise StorageError(str(exc)) from None
        self.known_datasets: set[str] = set()  # datasets are never deleted: safe to remember

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def _sqlite_file(self) -> Path | None:
        if not self.is_sqlite:
            return None
        return Path(make_url(self.database_url).database or "")

    def where(self) -> str:
        """The installation in words, for messages."""
        sqlite_file = self._sqlite_file()
        if sqlite_file is not None and sqlite_file.parent == self.data_dir:
            database = str(self.data_dir)
        else:
            database = shown(self.database_url)
        return database

    def schema_status(self) -> str:
        """The schema's state (storage.schema); a StorageError if the database is unreachable."""
        sqlite_file = self._sqlite_file()
        if sqlite_file is not None and not sqlite_file.is_file():
            return schema.EMPTY  # without creating the file (connecting would)
        try:
            return schema.status(self.db)
        except DBAPIError as exc:
            raise StorageError(f"Cannot use the database at {shown(self.database_url)}: "
                               f"{_reason(exc)}") from None

    def check_blobs(self) -> None:
        try:
            self.blobs.check()
        except BlobStoreUnavailable as exc:
            raise StorageError(str(exc)) from None

    @classmethod
    def open(cls, data_dir: Path, database_url: str | None = None,
             blob_url: str | None = None) -> Instance:
        """Open an initialised installation whose schema is current, or raise a StorageError
        (NotInitialised, NeedsMigration...), creating nothing."""
        instance = cls(data_dir, database_url, blob_url)
        state = instance.schema_status()
        if state == schema.EMPTY:
            raise NotInitialised(instance.where())
        if state in (schema.OUTDATED, schema.UNVERSIONED):
            raise NeedsMigration(f"The database at {instance.where()} was made by an older Gonk: "
                                 "run `gonk-api migrate` to upgrade it (every event and byte is "
                                 "kept).")
        if state == schema.NEWER:
            raise StorageError(f"The database at {instance.where()} was made by a newer Gonk; "
                               "upgrade this installation of Gonk to use it.")
        instance.check_blobs()
        return instance

    @classmethod
    def create(cls, data_dir: Path, database_url: str | None = None,
               blob_url: str | None = None) -> Instance:
        """Create the schema in an empty database and prepare the blob store."""
        instance = cls(data_dir, database_url, blob_url)
        if instance.is_sqlite:
            sqlite_file = instance._sqlite_file()
            assert sqlite_file is not None
            sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        if instance.schema_status() != schema.EMPTY:
            raise AlreadyInitialised(
                f"{instance.where()} is already initialised; nothing was changed. Use "
                "`gonk-api users add NAME` to add users, or `gonk-api migrate` to upgrade.")
        instance.check_blobs()
        try:
            schema.upgrade(instance.db)
        except DBAPIError as exc:
            raise StorageError(f"Cannot create Gonk's tables at {shown(instance.database_url)}: "
                               f"{_reason(exc)}") from None
        instance.blobs.create()
        return instance

    def close(self) -> None:
        self.db.close()
