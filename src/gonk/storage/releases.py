"""The releases table: named points of a dataset's log, never changed or deleted."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from ..domain.errors import Conflict
from . import tables as t
from .records import RELEASES, Release

R = t.releases.c


def get(conn: Connection, dataset_id: int, name: str) -> Release | None:
    row = conn.execute(RELEASES.select().where(R.dataset_id == dataset_id,
                                               R.name == name)).first()
    return RELEASES.from_row(row) if row is not None else None


def page(conn: Connection, dataset_id: int, after_id: int, limit: int | None) -> list[Release]:
    """Releases created after the one with id `after_id`, in creation order."""
    query = RELEASES.select().where(R.dataset_id == dataset_id, R.id > after_id).order_by(R.id)
    if limit is not None:
        query = query.limit(limit)
    return [RELEASES.from_row(row) for row in conn.execute(query)]


def name_taken(name: str) -> Conflict:
    """The refusal of a second release by the same name (409)."""
    return Conflict(f"A release named {name} already exists in this dataset.",
                    existing={"name": name})


def insert_release(conn: Connection, dataset_id: int, release: Release) -> Release:
    """Store a new release (its `id` is assigned here); Conflict if the dataset already has one
    by that name (the unique index decides, also between concurrent requests)."""
    params = RELEASES.insert_params(dataset_id, release)
    try:
        conn.execute(insert(t.releases).values(**params))
    except IntegrityError:
        raise name_taken(release.name) from None
    stored = get(conn, dataset_id, release.name)
    assert stored is not None
    return stored
