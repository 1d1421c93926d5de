"""The database: its URL, the engine, and read and write transactions with per-dataset locking.

Locking: a write transaction locks its dataset's row in the database, never in Python, so threads,
worker processes and hosts can all write to one dataset without forking its chain.
- PostgreSQL: `SELECT ... FOR UPDATE` on the dataset's row; other datasets do not wait.
- SQLite: `BEGIN IMMEDIATE` takes SQLite's single write lock for the whole file; write
  transactions are a few milliseconds, and readers never wait (WAL mode).
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..domain.errors import InsufficientStorage, Unavailable

STORAGE_TIMEOUT_ENV = "GONK_STORAGE_TIMEOUT"
DEFAULT_STORAGE_TIMEOUT = 10


def storage_timeout() -> int:
    """Seconds one attempt to reach the database or the blob store may wait (connecting, and for
    S3 each answer) before the request is answered 503: $GONK_STORAGE_TIMEOUT, default 10."""
    raw = os.environ.get(STORAGE_TIMEOUT_ENV, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_STORAGE_TIMEOUT


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached or used; the message is the driver's reason, one line."""

    component = "database"


_POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


def _is_disk_full(exc: DBAPIError) -> bool:
    original = exc.orig
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        return code is not None and code & 0xFF == sqlite3.SQLITE_FULL
    cause = original.__cause__ if original is not None else None
    return getattr(original, "sqlstate", None) == _POSTGRES_DISK_FULL or (
        isinstance(cause, OSError) and cause.errno == errno.ENOSPC)


# SQLite's primary result codes that mean the database cannot be used right now (busy or locked
# past the busy timeout, an I/O error, a read-only or vanished file), unlike SQLITE_ERROR, which
# SQLite also reports as OperationalError for a mistake in a statement (no such column...).
_SQLITE_UNAVAILABLE = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
                                 sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN,
                                 sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOLFS})


def _is_unavailable(exc: DBAPIError) -> bool:
    """The driver says the database cannot be used now, rather than that a statement is wrong.
    psycopg reports statement mistakes as ProgrammingError and DataError, never as
    OperationalError or InterfaceError; sqlite3 reports some as OperationalError, and binding
    mistakes as InterfaceError, so its result code decides."""
    original = exc.orig
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_UNAVAILABLE
    return True


@contextmanager
def _reachable() -> Iterator[None]:
    """Inside a request's transaction: the database gone (refused, dropped, timed out, shut
    down, locked past the busy timeout) is DatabaseUnavailable (503), a full disk
    InsufficientStorage (507). Other driver errors (a bug in a statement) pass unchanged, to be
    the 500 a bug is."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        if _is_disk_full(exc):
            raise InsufficientStorage("database") from exc
        if not _is_unavailable(exc):
            raise
        raise DatabaseUnavailable(reason(exc)) from exc
    except PoolTimeout as exc:
        raise DatabaseUnavailable(f"no free database connection: {exc}") from exc


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a transaction acknowledged to a client survives power loss, not only a crash.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_sqlite(connection: Connection) -> None:
            options = connection.get_execution_options()
            if options.get("gonk_single_statement"):
                return  # one SELECT is atomic on its own; BEGIN and COMMIT would double its cost
            connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get("gonk_write") else "BEGIN")

        return engine
    # PostgreSQL: a pool per process sized for gunicorn's threads; connections are checked
    # before use, so a restarted database costs one failed ping, not a failed request.
    # A database that stops answering is noticed within about GONK_STORAGE_TIMEOUT seconds: at
    # connect (connect_timeout), and on an open connection by TCP keepalives and
    # tcp_user_timeout (data unacknowledged that long fails the connection), so no request
    # waits on a vanished server until the kernel gives up, minutes later.
    timeout = storage_timeout()
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8,
                         pool_timeout=max(timeout, 5),
                         connect_args={"connect_timeout": max(timeout, 2), "keepalives": 1,
                                       "keepalives_idle": timeout, "keepalives_interval": 2,
                                       "keepalives_count": 3,
                                       "tcp_user_timeout": timeout * 1000})


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'gonk.db'}"


def resolve_url(raw: str, data_dir: Path) -> str:
    """A database URL as a user gave it ("" for the default: SQLite in the data directory),
    checked and given the driver Gonk uses (psycopg 3 for PostgreSQL). ValueError, with a
    message for people, for a URL Gonk cannot use."""
    if not raw:
        return sqlite_url(data_dir)
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValueError(f"Not a database URL: {raw!r} (expected sqlite:///PATH or "
                         "postgresql://user:password@host:port/database).") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ValueError("PostgreSQL support is not installed: "
                             "pip install 'gonk[postgres]'.") from None
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("A SQLite database URL needs a file: sqlite:///PATH.")
        return url.set(drivername="sqlite").render_as_string(hide_password=False)
    raise ValueError(f"Unsupported database {backend!r} in {shown(raw)}: Gonk runs on SQLite "
                     "(sqlite:///PATH) or PostgreSQL (postgresql://...).")


def shown(url: str | URL) -> str:
    """A URL fit for messages and logs: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return str(url)


def reason(exc: BaseException) -> str:
    """The first line of a driver's error, without SQLAlchemy's wrapping."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


@contextmanager
def unavailable_as_error() -> Iterator[None]:
    """Turn the driver's connection and SQL errors into DatabaseUnavailable (one line)."""
    try:
        yield
    except DBAPIError as exc:
        raise DatabaseUnavailable(reason(exc)) from None


def _sqlite_path(url: str) -> Path | None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


class _WriterQueue:
    """Orders SQLite writers, across threads and processes, so that a waiting writer wakes the
    moment the previous one commits (the kernel wakes `flock` waiters at once; SQLite's own busy
    handler polls with sleeps of up to 100 ms). Only an ordering aid: `BEGIN IMMEDIATE` is still
    what guarantees one writer at a time, so a process that ignores the queue (another tool,
    an older Gonk) is safe, only slower."""

    def __init__(self, db_path: Path | None) -> None:
        self._threads = threading.Lock()
        self._lock_path = db_path.with_name(db_path.name + ".writers") if db_path else None
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int | None:
        if self._lock_path is None:
            return None
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        """Close the lock file (opened by the first write of this process)."""
        with self._threads:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


class Database:
    def __init__(self, url: str) -> None:
        """`url` as resolve_url returns it. Nothing is contacted yet."""
        self.url = url
        try:
            self.engine = make_engine(url)
        except NoSuchModuleError:
            raise DatabaseUnavailable(f"No driver for {shown(url)}.") from None
        # SQLite's write lock is what keeps chains whole, across threads and processes. Writers
        # that find it taken sleep in SQLite's busy handler (1, 2, 5, 10 ms...), leaving the
        # lock idle; threads of one process queue here first instead, and wake the moment the
        # previous writer of this process is done. Not needed (and not used) on PostgreSQL,
        # whose row locks wake waiters at once and let other datasets proceed.
        self._sqlite_queue = _WriterQueue(_sqlite_path(url)) if url.startswith("sqlite") else None

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database's file (None on PostgreSQL)."""
        return Path(make_url(self.url).database or "") if self.is_sqlite else None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction. Here and in `write` and `single_statement`, a database that
        cannot be reached is DatabaseUnavailable and a full disk InsufficientStorage."""
        with _reachable(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def single_statement(self) -> Iterator[Connection]:
        """A connection for reads run outside any explicit transaction, each statement seeing
        the latest commit: one SELECT (atomic on its own: the per-request key lookup), or
        several whose answers agree without a snapshot (the verifiable log's: a tree's nodes
        are committed with their events and no append changes them, so every node of a tree
        size read first is there for the statements after it)."""
        with _reachable(), self.engine.connect() as conn:
            conn.execution_options(gonk_single_statement=True)
            if not self.is_sqlite:
                # no BEGIN and ROLLBACK around it: two round trips fewer on every request
                conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        with _reachable(), self._sqlite_queue or nullcontext(), self.engine.connect() as conn:
            conn.execution_options(gonk_write=True)
            with conn.begin():
                yield conn

    def ping(self) -> None:
        """Ask the database a trivial question: DatabaseUnavailable if it does not answer."""
        with self.single_statement() as conn:
            conn.exec_driver_sql("SELECT 1").scalar()

    def close(self) -> None:
        self.engine.dispose()
        if self._sqlite_queue is not None:
            self._sqlite_queue.close()
