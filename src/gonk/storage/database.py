"""Metadata storage: the engine, per-dataset write locking, appending events, and the SQL
implementation of the rules' StateView.

Locking: a write transaction locks its dataset's row in the database, never in Python, so threads,
worker processes and hosts can all write to one dataset without forking its chain.
- PostgreSQL: `SELECT ... FOR UPDATE` on the dataset's row; other datasets do not wait.
- SQLite: `BEGIN IMMEDIATE` takes SQLite's single write lock for the whole file; write
  transactions are a few milliseconds, and readers never wait (WAL mode).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    or_,
    select,
    update,
)

from ..domain import integrity, rules
from ..domain.errors import NotFound
from ..domain.memory import make_snapshot
from ..domain.rules import EventInfo, Item, Version
from . import tables as t
from .prepared import Prepared


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
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8,
                         connect_args={"connect_timeout": 10})


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'gonk.db'}"


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


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # SQLite's write lock is what keeps chains whole, across threads and processes. Writers
        # that find it taken sleep in SQLite's busy handler (1, 2, 5, 10 ms...), leaving the
        # lock idle; threads of one process queue here first instead, and wake the moment the
        # previous writer of this process is done. Not needed (and not used) on PostgreSQL,
        # whose row locks wake waiters at once and let other datasets proceed.
        self._sqlite_queue = _WriterQueue(_sqlite_path(url)) if url.startswith("sqlite") else None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def read_one(self, statement: Any, params: dict[str, Any]) -> Any:
        """The first column of the first row of one read statement, or None; run outside any
        explicit transaction (for the per-request key lookup)."""
        with self.engine.connect() as conn:
            conn.execution_options(gonk_single_statement=True)
            return conn.execute(statement, params).scalar()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        with self._sqlite_queue or nullcontext(), self.engine.connect() as conn:
            conn.execution_options(gonk_write=True)
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()


# --- prebuilt statements -----------------------------------------------------------------------
# The write path runs these on every request. Built once with bind parameters, they skip
# SQLAlchemy's per-call statement construction and cache-key generation (most of a write's CPU).

def _p(name: str) -> Any:
    return bindparam(name)


T_D, T_E, T_I, T_V, T_O = t.datasets.c, t.events.c, t.items.c, t.versions.c, t.owners.c
LIVE = and_(T_V.cr.is_(False), T_V.da.is_(False))

DATASET_BY_NAME = select(t.datasets).where(T_D.name == _p("p_name"))
DATASET_BY_NAME_LOCKED = DATASET_BY_NAME.with_for_update()
ADVANCE_HEAD = update(t.datasets).where(T_D.id == _p("p_ds")).values(
    head_integrity=_p("p_head"), event_count=_p("p_count"))
INSERT_EVENT = insert(t.events)
OWNERS = select(T_O.username).where(T_O.dataset_id == _p("p_ds")).order_by(T_O.rank)
ITEM = select(t.items).where(T_I.dataset_id == _p("p_ds"), T_I.uuid == _p("p_uuid"))
VERSION = select(t.versions).where(T_V.dataset_id == _p("p_ds"), T_V.uuid == _p("p_uuid"),
                                   T_V.version == _p("p_version"))
SCHEMA_NAMED = select(t.items).where(
    T_I.dataset_id == _p("p_ds"), T_I.kind == rules.SCHEMA, T_I.name == _p("p_name")
).order_by(T_I.created_seq.desc()).limit(1)
HAS_LIVE_VERSION = select(T_V.version).where(
    T_V.dataset_id == _p("p_ds"), T_V.uuid == _p("p_uuid"), LIVE).limit(1)
# No ORDER BY here or in similar lookups: it would tempt SQLite into walking the primary key
# in order (a scan of the whole dataset) instead of the hash index. The rules allow at most one
# live object version per hash, so there is nothing to order.
LIVE_OBJECT_WITH_HASH = select(T_V.uuid, T_V.version).where(
    T_V.dataset_id == _p("p_ds"), T_V.kind == rules.OBJECT, T_V.hash == _p("p_hash"), LIVE
).limit(1)
EVENT_INFO = select(T_E.uuid, T_E.type, T_E.review, T_E.target_uuid, T_E.target_version).where(
    T_E.dataset_id == _p("p_ds"), T_E.uuid == _p("p_uuid"))
INSERT_OWNER = insert(t.owners)
DELETE_OWNER = delete(t.owners).where(T_O.dataset_id == _p("p_ds"), T_O.username == _p("p_user"))
INSERT_ITEM = insert(t.items)
COUNT_VERSIONS = update(t.items).where(T_I.dataset_id == _p("p_ds"), T_I.uuid == _p("p_uuid")
                                       ).values(versions=_p("p_versions"))
INSERT_VERSION = insert(t.versions).values(created_seq=select(T_I.created_seq).where(
    T_I.dataset_id == _p("p_ds"), T_I.uuid == _p("p_uuid")).scalar_subquery())
SET_FLAGS = update(t.versions).where(
    T_V.dataset_id == _p("p_ds"), T_V.uuid == _p("p_uuid"), T_V.version == _p("p_version")
).values(cp=_p("p_cp"), cr=_p("p_cr"), dp=_p("p_dp"), da=_p("p_da"))
INSERT_LINK = insert(t.annotation_links)
SET_REVIEW = update(t.events).where(T_E.dataset_id == _p("p_ds"), T_E.uuid == _p("p_uuid")
                                    ).values(review=_p("p_review"))

# The same statements, run on the DBAPI cursor (see prepared.py): the write path's own.
_EVENT_COLUMNS = ["dataset_id", "seq", "uuid", "type", "body", "integrity", "review",
                  "target_uuid", "target_version"]
_VERSION_COLUMNS = ["dataset_id", "uuid", "version", "kind", "name", "format", "size", "hash",
                    "schema_uuid", "schema_version", "cp", "cr", "dp", "da"]
FAST_DATASET_LOCKED = Prepared(DATASET_BY_NAME_LOCKED)
FAST_ADVANCE_HEAD = Prepared(ADVANCE_HEAD)
FAST_INSERT_EVENT = Prepared(INSERT_EVENT, _EVENT_COLUMNS)
FAST_OWNERS = Prepared(OWNERS)
FAST_ITEM = Prepared(ITEM)
FAST_VERSION = Prepared(VERSION)
FAST_SCHEMA_NAMED = Prepared(SCHEMA_NAMED)
FAST_HAS_LIVE_VERSION = Prepared(HAS_LIVE_VERSION)
FAST_LIVE_OBJECT_WITH_HASH = Prepared(LIVE_OBJECT_WITH_HASH)
FAST_EVENT_INFO = Prepared(EVENT_INFO)
FAST_INSERT_OWNER = Prepared(INSERT_OWNER, ["dataset_id", "username", "rank"])
FAST_DELETE_OWNER = Prepared(DELETE_OWNER)
FAST_INSERT_ITEM = Prepared(INSERT_ITEM, ["dataset_id", "uuid", "kind", "name", "created_seq",
                                          "versions"])
FAST_COUNT_VERSIONS = Prepared(COUNT_VERSIONS)
FAST_INSERT_VERSION = Prepared(INSERT_VERSION, _VERSION_COLUMNS)
FAST_SET_FLAGS = Prepared(SET_FLAGS)
FAST_INSERT_LINK = Prepared(INSERT_LINK, ["dataset_id", "annotation_uuid", "object_uuid",
                                          "object_version", "position"])
FAST_SET_REVIEW = Prepared(SET_REVIEW)


# --- datasets and the log --------------------------------------------------------------------


def dataset_row(conn: Connection, name: str, lock: bool = False) -> Any:
    if lock:
        row = FAST_DATASET_LOCKED.first(conn, {"p_name": name})
    else:
        row = conn.execute(DATASET_BY_NAME, {"p_name": name}).first()
    if row is None:
        raise NotFound(f"No dataset named {name}.")
    return row


class DatasetLog:
    """A dataset locked for writing: appends events, links them into the chain and projects
    them, all inside the caller's transaction."""

    def __init__(self, conn: Connection, row: Any) -> None:
        self.conn = conn
        self.dataset_id: int = row.id
        self.name: str = row.name
        self.head: str = row.head_integrity
        self.count: int = row.event_count
        self.state = SqlState(conn, self.dataset_id)

    @classmethod
    def lock(cls, conn: Connection, name: str) -> DatasetLog:
        return cls(conn, dataset_row(conn, name, lock=True))

    def append(self, event_json: dict[str, Any]) -> dict[str, Any]:
        """Check the event against the rules, link it, store it and its projection.

        Raises the rules' typed error (and changes nothing) when the event is not allowed.
        """
        seq = self.count + 1
        changes = rules.decide(self.state, event_json, seq)
        event_json = dict(event_json)
        event_json["integrity"] = integrity.link(self.head, event_json)
        recorded = next(c for c in changes if isinstance(c, rules.EventRecorded))
        FAST_INSERT_EVENT.run(self.conn, {
            "dataset_id": self.dataset_id, "seq": seq, "uuid": event_json["uuid"],
            "type": event_json["type"], "body": json.dumps(event_json, separators=(",", ":")),
            "integrity": event_json["integrity"], "review": recorded.info.review,
            "target_uuid": recorded.info.target_uuid,
            "target_version": recorded.info.target_version,
        })
        self.state.apply([c for c in changes if c is not recorded])
        FAST_ADVANCE_HEAD.run(self.conn, {"p_ds": self.dataset_id,
                                          "p_head": event_json["integrity"], "p_count": seq})
        self.head, self.count = event_json["integrity"], seq
        return event_json


def create_dataset(conn: Connection, name: str, created_at: str) -> DatasetLog:
    conn.execute(insert(t.datasets).values(
        name=name, head_integrity="", event_count=0, created_at=created_at))
    return DatasetLog(conn, dataset_row(conn, name))


def event_bodies(conn: Connection, dataset_id: int) -> Iterator[dict[str, Any]]:
    """Every event of a dataset in log order, as stored."""
    rows = conn.execute(select(T_E.body).where(T_E.dataset_id == dataset_id)
                        .order_by(T_E.seq)).scalars()
    for body in rows:
        yield json.loads(body)


# --- the SQL StateView -----------------------------------------------------------------------


def _item(row: Any) -> Item:
    return Item(row.uuid, row.kind, row.name, row.created_seq, row.versions)


def _version(row: Any) -> Version:
    return Version(row.uuid, row.version, row.kind, row.name, row.format, row.size, row.hash,
                   row.schema_uuid, row.schema_version, bool(row.cp), bool(row.cr),
                   bool(row.dp), bool(row.da))


class SqlState:
    """The rules' view of one dataset, read from the projection tables; applies their changes."""

    def __init__(self, conn: Connection, dataset_id: int) -> None:
        self.conn = conn
        self.dataset_id = dataset_id

    def owners(self) -> list[str]:
        return FAST_OWNERS.scalars(self.conn, {"p_ds": self.dataset_id})

    def item(self, item_uuid: str) -> Item | None:
        row = FAST_ITEM.first(self.conn, {"p_ds": self.dataset_id, "p_uuid": item_uuid})
        return _item(row) if row else None

    def version(self, item_uuid: str, version: int) -> Version | None:
        row = FAST_VERSION.first(self.conn, {"p_ds": self.dataset_id, "p_uuid": item_uuid,
                                             "p_version": version})
        return _version(row) if row else None

    def schema_named(self, name: str) -> Item | None:
        row = FAST_SCHEMA_NAMED.first(self.conn, {"p_ds": self.dataset_id, "p_name": name})
        return _item(row) if row else None

    def has_live_version(self, item_uuid: str) -> bool:
        return FAST_HAS_LIVE_VERSION.first(self.conn, {"p_ds": self.dataset_id,
                                                       "p_uuid": item_uuid}) is not None

    def live_object_with_hash(self, digest: str) -> tuple[str, int] | None:
        row = FAST_LIVE_OBJECT_WITH_HASH.first(self.conn, {"p_ds": self.dataset_id,
                                                           "p_hash": digest})
        return (row.uuid, row.version) if row else None

    def event(self, event_uuid: str) -> EventInfo | None:
        row = FAST_EVENT_INFO.first(self.conn, {"p_ds": self.dataset_id, "p_uuid": event_uuid})
        if row is None:
            return None
        return EventInfo(row.uuid, row.type, row.review, row.target_uuid, row.target_version)

    def apply(self, changes: list[rules.Change]) -> None:
        ds = self.dataset_id
        conn = self.conn
        for change in changes:
            match change:
                case rules.OwnerAdded(user, rank):
                    FAST_INSERT_OWNER.run(conn, {"dataset_id": ds, "username": user,
                                                 "rank": rank})
                case rules.OwnerRemoved(user):
                    FAST_DELETE_OWNER.run(conn, {"p_ds": ds, "p_user": user})
                case rules.ItemSaved(item) if item.versions == 1:  # a new item
                    FAST_INSERT_ITEM.run(conn, {
                        "dataset_id": ds, "uuid": item.uuid, "kind": item.kind,
                        "name": item.name, "created_seq": item.created_seq, "versions": 1})
                case rules.ItemSaved(item):
                    FAST_COUNT_VERSIONS.run(conn, {"p_ds": ds, "p_uuid": item.uuid,
                                                   "p_versions": item.versions})
                case rules.VersionAdded(v):
                    FAST_INSERT_VERSION.run(conn, {
                        "p_ds": ds, "p_uuid": v.uuid,  # for the item's created_seq
                        "dataset_id": ds, "uuid": v.uuid, "version": v.version, "kind": v.kind,
                        "name": v.name, "format": v.format, "size": v.size, "hash": v.hash,
                        "schema_uuid": v.schema_uuid, "schema_version": v.schema_version,
                        "cp": v.cp, "cr": v.cr, "dp": v.dp, "da": v.da})
                case rules.FlagsChanged(v):
                    FAST_SET_FLAGS.run(conn, {"p_ds": ds, "p_uuid": v.uuid,
                                              "p_version": v.version, "p_cp": v.cp,
                                              "p_cr": v.cr, "p_dp": v.dp, "p_da": v.da})
                case rules.LinksAdded(annotation_uuid, objects):
                    FAST_INSERT_LINK.run_many(conn, [
                        {"dataset_id": ds, "annotation_uuid": annotation_uuid,
                         "object_uuid": u, "object_version": n, "position": i}
                        for i, (u, n) in enumerate(objects)])
                case rules.ReviewRecorded(event_uuid, review):
                    FAST_SET_REVIEW.run(conn, {"p_ds": ds, "p_uuid": event_uuid,
                                               "p_review": review})
                case _:
                    raise TypeError(f"cannot apply {change!r} here")

    def snapshot(self) -> dict[str, Any]:
        """The stored derived state in the canonical form of domain.memory.make_snapshot."""
        ds = self.dataset_id
        c = self.conn
        owners = [(r.username, r.rank) for r in c.execute(
            select(t.owners).where(t.owners.c.dataset_id == ds))]
        items = [_item(r) for r in c.execute(select(t.items).where(t.items.c.dataset_id == ds))]
        versions = [_version(r) for r in c.execute(
            select(t.versions).where(t.versions.c.dataset_id == ds))]
        links = {(r.annotation_uuid, r.object_uuid, r.object_version) for r in c.execute(
            select(t.annotation_links).where(t.annotation_links.c.dataset_id == ds))}
        events = [(r.seq, EventInfo(r.uuid, r.type, r.review, r.target_uuid, r.target_version))
                  for r in c.execute(select(t.events).where(t.events.c.dataset_id == ds))]
        return make_snapshot(owners, items, versions, links, events)


def status_condition(status: str) -> Any:
    """The SQL form of Version.status_words for one status word."""
    v = t.versions.c
    return {
        "accepted": and_(v.cp.is_(False), v.cr.is_(False), v.da.is_(False)),
        "pending": or_(v.cp.is_(True), v.dp.is_(True)),
        "deleted": v.da.is_(True),
        "rejected": v.cr.is_(True),
    }[status]

