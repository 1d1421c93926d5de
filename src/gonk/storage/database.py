"""Metadata storage: the engine, per-dataset write locking, appending events, and the SQL
implementation of the rules' StateView.

Locking: a write transaction locks its dataset's row in the database, never in Python, so threads,
worker processes and hosts can all write to one dataset without forking its chain.
- PostgreSQL: `SELECT ... FOR UPDATE` on the dataset's row; other datasets do not wait.
- SQLite: `BEGIN IMMEDIATE` takes SQLite's single write lock for the whole file; write
  transactions are a few milliseconds, and readers never wait (WAL mode).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    or_,
    select,
    update,
)

from ..domain import integrity, rules
from ..domain.errors import NotFound
from ..domain.memory import make_snapshot
from ..domain.rules import EventInfo, Item, Version
from . import tables as t


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
            write = connection.get_execution_options().get("gonk_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'gonk.db'}"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def create_schema(self) -> None:
        t.metadata.create_all(self.engine)

    def is_initialised(self) -> bool:
        return inspect(self.engine).has_table("users")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back on any error."""
        with self.engine.connect() as conn:
            conn.execution_options(gonk_write=True)
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()


# --- datasets and the log --------------------------------------------------------------------


def dataset_row(conn: Connection, name: str, lock: bool = False) -> Any:
    query = select(t.datasets).where(t.datasets.c.name == name)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
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
        self.conn.execute(insert(t.events).values(
            dataset_id=self.dataset_id, seq=seq, uuid=event_json["uuid"],
            type=event_json["type"], body=json.dumps(event_json, separators=(",", ":")),
            integrity=event_json["integrity"], review=recorded.info.review,
            target_uuid=recorded.info.target_uuid, target_version=recorded.info.target_version,
        ))
        self.state.apply([c for c in changes if c is not recorded])
        self.conn.execute(update(t.datasets).where(t.datasets.c.id == self.dataset_id).values(
            head_integrity=event_json["integrity"], event_count=seq))
        self.head, self.count = event_json["integrity"], seq
        return event_json


def create_dataset(conn: Connection, name: str, created_at: str) -> DatasetLog:
    result = conn.execute(insert(t.datasets).values(
        name=name, head_integrity="", event_count=0, created_at=created_at))
    row = conn.execute(
        select(t.datasets).where(t.datasets.c.id == result.inserted_primary_key[0])).one()
    return DatasetLog(conn, row)


def event_bodies(conn: Connection, dataset_id: int) -> Iterator[dict[str, Any]]:
    """Every event of a dataset in log order, as stored."""
    rows = conn.execute(select(t.events.c.body).where(t.events.c.dataset_id == dataset_id)
                        .order_by(t.events.c.seq)).scalars()
    for body in rows:
        yield json.loads(body)


# --- the SQL StateView -----------------------------------------------------------------------


def _item(row: Any) -> Item:
    return Item(row.uuid, row.kind, row.name, row.created_seq, row.versions)


def _version(row: Any) -> Version:
    return Version(row.uuid, row.version, row.kind, row.name, row.format, row.size, row.hash,
                   row.schema_uuid, row.schema_version, bool(row.cp), bool(row.cr),
                   bool(row.dp), bool(row.da))


LIVE = and_(t.versions.c.cr.is_(False), t.versions.c.da.is_(False))


class SqlState:
    """The rules' view of one dataset, read from the projection tables; applies their changes."""

    def __init__(self, conn: Connection, dataset_id: int) -> None:
        self.conn = conn
        self.dataset_id = dataset_id

    def owners(self) -> list[str]:
        return list(self.conn.execute(
            select(t.owners.c.username).where(t.owners.c.dataset_id == self.dataset_id)
            .order_by(t.owners.c.rank)).scalars())

    def item(self, item_uuid: str) -> Item | None:
        row = self.conn.execute(select(t.items).where(
            t.items.c.dataset_id == self.dataset_id, t.items.c.uuid == item_uuid)).first()
        return _item(row) if row else None

    def version(self, item_uuid: str, version: int) -> Version | None:
        row = self.conn.execute(select(t.versions).where(
            t.versions.c.dataset_id == self.dataset_id, t.versions.c.uuid == item_uuid,
            t.versions.c.version == version)).first()
        return _version(row) if row else None

    def schema_named(self, name: str) -> Item | None:
        row = self.conn.execute(select(t.items).where(
            t.items.c.dataset_id == self.dataset_id, t.items.c.kind == rules.SCHEMA,
            t.items.c.name == name).order_by(t.items.c.created_seq.desc()).limit(1)).first()
        return _item(row) if row else None

    def has_live_version(self, item_uuid: str) -> bool:
        return self.conn.execute(select(t.versions.c.version).where(
            t.versions.c.dataset_id == self.dataset_id, t.versions.c.uuid == item_uuid,
            LIVE).limit(1)).first() is not None

    def live_object_with_hash(self, digest: str) -> tuple[str, int] | None:
        row = self.conn.execute(select(t.versions.c.uuid, t.versions.c.version).where(
            t.versions.c.dataset_id == self.dataset_id, t.versions.c.kind == rules.OBJECT,
            t.versions.c.hash == digest, LIVE)
            .order_by(t.versions.c.uuid, t.versions.c.version).limit(1)).first()
        return (row.uuid, row.version) if row else None

    def event(self, event_uuid: str) -> EventInfo | None:
        row = self.conn.execute(select(
            t.events.c.uuid, t.events.c.type, t.events.c.review, t.events.c.target_uuid,
            t.events.c.target_version).where(
            t.events.c.dataset_id == self.dataset_id, t.events.c.uuid == event_uuid)).first()
        if row is None:
            return None
        return EventInfo(row.uuid, row.type, row.review, row.target_uuid, row.target_version)

    def apply(self, changes: list[rules.Change]) -> None:
        ds = self.dataset_id
        for change in changes:
            match change:
                case rules.OwnerAdded(user, rank):
                    self.conn.execute(insert(t.owners).values(
                        dataset_id=ds, username=user, rank=rank))
                case rules.OwnerRemoved(user):
                    self.conn.execute(delete(t.owners).where(
                        t.owners.c.dataset_id == ds, t.owners.c.username == user))
                case rules.ItemSaved(item):
                    updated = self.conn.execute(update(t.items).where(
                        t.items.c.dataset_id == ds, t.items.c.uuid == item.uuid)
                        .values(versions=item.versions))
                    if updated.rowcount == 0:
                        self.conn.execute(insert(t.items).values(
                            dataset_id=ds, uuid=item.uuid, kind=item.kind, name=item.name,
                            created_seq=item.created_seq, versions=item.versions))
                case rules.VersionAdded(v):
                    created_seq = select(t.items.c.created_seq).where(
                        t.items.c.dataset_id == ds, t.items.c.uuid == v.uuid).scalar_subquery()
                    self.conn.execute(insert(t.versions).values(
                        dataset_id=ds, uuid=v.uuid, version=v.version, kind=v.kind,
                        created_seq=created_seq, name=v.name, format=v.format, size=v.size,
                        hash=v.hash, schema_uuid=v.schema_uuid, schema_version=v.schema_version,
                        cp=v.cp, cr=v.cr, dp=v.dp, da=v.da))
                case rules.FlagsChanged(v):
                    self.conn.execute(update(t.versions).where(
                        t.versions.c.dataset_id == ds, t.versions.c.uuid == v.uuid,
                        t.versions.c.version == v.version).values(
                        cp=v.cp, cr=v.cr, dp=v.dp, da=v.da))
                case rules.LinksAdded(annotation_uuid, objects):
                    self.conn.execute(insert(t.annotation_links), [
                        {"dataset_id": ds, "annotation_uuid": annotation_uuid,
                         "object_uuid": u, "object_version": n, "position": i}
                        for i, (u, n) in enumerate(objects)])
                case rules.ReviewRecorded(event_uuid, review):
                    self.conn.execute(update(t.events).where(
                        t.events.c.dataset_id == ds, t.events.c.uuid == event_uuid)
                        .values(review=review))
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

