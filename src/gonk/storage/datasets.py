"""The datasets table: create, find (optionally locked for writing) and list datasets."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from ..domain.errors import Conflict, NotFound
from . import tables as t
from .prepared import Prepared
from .records import DATASETS, Dataset

_BY_NAME = DATASETS.select().where(t.datasets.c.name == bindparam("p_name"))
# The write path's lock on one dataset: PostgreSQL locks the row (other datasets do not wait);
# SQLite's BEGIN IMMEDIATE already holds the file's write lock and ignores FOR UPDATE.
_BY_NAME_LOCKED = Prepared(_BY_NAME.with_for_update())


def get(conn: Connection, name: str, lock: bool = False) -> Dataset:
    """The dataset named `name` (NotFound if there is none); `lock`: hold its row's write lock
    until the transaction ends."""
    if lock:
        row = _BY_NAME_LOCKED.first(conn, {"p_name": name})
    else:
        row = conn.execute(_BY_NAME, {"p_name": name}).first()
    if row is None:
        raise NotFound(f"No dataset named {name}.")
    return DATASETS.from_row(row)


def create(conn: Connection, name: str, created_at: str) -> Dataset:
    """A new dataset with an empty log; Conflict if the name is taken (also when a concurrent
    transaction took it first: the unique index decides, and this transaction must end)."""
    try:
        conn.execute(insert(t.datasets).values(
            name=name, head_integrity="", event_count=0, created_at=created_at))
    except IntegrityError:
        raise Conflict(f"A dataset named {name} already exists.") from None
    return get(conn, name)


def names(conn: Connection) -> list[str]:
    """Every dataset's name, sorted."""
    return list(conn.execute(select(t.datasets.c.name).order_by(t.datasets.c.name)).scalars())


def every(conn: Connection) -> list[Dataset]:
    """Every dataset, in the order they were created."""
    return [DATASETS.from_row(row)
            for row in conn.execute(DATASETS.select().order_by(t.datasets.c.id))]
