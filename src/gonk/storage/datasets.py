"""The datasets table: create, find (optionally locked for writing) and list datasets, and who
may read them (a private dataset is for its owners and members only)."""

from __future__ import annotations

from sqlalchemy import Connection, and_, bindparam, insert, or_, select
from sqlalchemy.exc import IntegrityError

from ..domain import events as ev
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


def name_of(conn: Connection, dataset_id: int) -> str:
    return str(conn.execute(select(t.datasets.c.name).where(t.datasets.c.id == dataset_id))
               .scalar_one())


def names(conn: Connection) -> list[str]:
    """Every dataset's name, sorted."""
    return list(conn.execute(select(t.datasets.c.name).order_by(t.datasets.c.name)).scalars())


def every(conn: Connection) -> list[Dataset]:
    """Every dataset, in the order they were created."""
    return [DATASETS.from_row(row)
            for row in conn.execute(DATASETS.select().order_by(t.datasets.c.id))]


D, S, OWN, M = t.datasets.c, t.dataset_settings.c, t.owners.c, t.members.c
# a dataset with what one user is in it: its settings' row (if any), their owner and member rows
_WITH_CALLER = (t.datasets
                .outerjoin(t.dataset_settings, S.dataset_id == D.id)
                .outerjoin(t.owners, and_(OWN.dataset_id == D.id,
                                          OWN.username == bindparam("p_user")))
                .outerjoin(t.members, and_(M.dataset_id == D.id,
                                           M.username == bindparam("p_user"))))
READABLE = or_(S.visibility.is_(None), S.visibility == ev.INTERNAL, OWN.username.is_not(None),
               M.role.is_not(None))
"""The caller (p_user) may read the dataset: it is internal, or they own it or are a member."""
_READABLE = select(D.id).select_from(_WITH_CALLER).where(D.name == bindparam("p_name"), READABLE)
_READABLE_NAMES = select(D.name).select_from(_WITH_CALLER).where(READABLE).order_by(D.name)


def readable(conn: Connection, name: str, user: str) -> bool:
    """Whether dataset `name` exists and `user` may read it (one query)."""
    return conn.execute(_READABLE, {"p_name": name, "p_user": user}).first() is not None


def readable_names(conn: Connection, user: str) -> list[str]:
    """The names of the datasets `user` may read, sorted."""
    return list(conn.execute(_READABLE_NAMES, {"p_user": user}).scalars())
