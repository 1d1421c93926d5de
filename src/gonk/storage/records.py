"""Each table described once: the record (a dataclass) its rows are, and everything derived from
that description.

A table's columns are the fields of its record (same names), `dataset_id` for tables that hold
one dataset's rows, and a few columns no record carries (`extra`: the log's `body` and
`integrity`, a version's `created_seq`). The write path's INSERT and UPDATE statements, the
row-to-record mapper and the lookups by key all take their column lists from
`dataclasses.fields(record)`; domain.memory's snapshot (what `verify` compares) takes them from
the records too. So adding a column to a projection table means: the column in tables.py, an
Alembic revision in migrations/versions/, the field in the record's dataclass, and the rule that
sets it (and, if a rule changes it in a row already written, its name in the table's
`changing` below). A table and its record that disagree fail at import, and
tests/integration/test_table_descriptions.py checks the tables against the newest migration.
"""

from __future__ import annotations

import dataclasses
import operator
import typing
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.sql import ColumnElement, Select

from ..domain.rules import EventInfo, Item, Link, Member, Owner, Settings, Version
from . import tables as t
from .prepared import Prepared

R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A dataset and the head of its hash chain."""

    id: int
    name: str
    head_integrity: str  # integrity of the last event; "" before the first
    event_count: int
    created_at: str


@dataclasses.dataclass(frozen=True)
class User:
    name: str
    key_hash: str  # sha256 of the API key (the key itself is never stored)
    created_at: str
    admin: bool = False  # an instance admin: manages users over the API
    deleted_at: str | None = None  # deleted users keep their name (in logs), not their key


@dataclasses.dataclass(frozen=True)
class Release:
    """A named point of a dataset's log and what its content was there (releases.py)."""

    id: int  # creation order
    name: str
    description: str
    author: str
    created_at: str
    event_seq: int  # the point: the event's 1-based position in the dataset's log
    event_uuid: str
    event_integrity: str
    objects: int
    schemas: int
    annotations: int
    bytes: int
    stale_annotations: int
    manifest_sha256: str
    checkpoint: str | None  # the signed checkpoint at the point (log_signing.py)


@dataclasses.dataclass(frozen=True)
class MerkleNode:
    """The hash of one perfect subtree of a dataset's Merkle tree (domain/merkle.py)."""

    level: int
    position: int
    hash: bytes


@dataclasses.dataclass(frozen=True)
class LogKey:
    """The installation's log signing key (storage/tables.py: log_keys)."""

    id: int
    origin: str
    private_key: bytes
    public_key: bytes
    created_at: str


@dataclasses.dataclass(frozen=True)
class AnnotationLabel:
    """How many labels of one class an annotation version holds (annotations of a schema that
    declares a label kind): one row of annotation_labels, summed by GET /datasets/D/stats."""

    annotation_uuid: str
    annotation_version: int
    position: int  # 0, 1, ... within the version, in the labels' order
    kind: str  # the label kind its schema version declares
    label_json: str  # the label as a JSON string (stats.label_json)
    count: int


@dataclasses.dataclass(frozen=True)
class Lease:
    """A claim on one task of a dataset's work queue, live until `expires_at`."""

    id: str
    task: str  # annotate, review
    target_uuid: str  # the object (annotate) or the event (review)
    target_version: int  # the object's version (annotate); 0 for a review
    schema_uuid: str  # the schema item (annotate); "" for a review
    holder: str
    expires_at: float  # seconds since the epoch


@dataclasses.dataclass(frozen=True)
class QueuedObject:
    """An object's place in the work queue: its priority and who it is assigned to."""

    object_uuid: str
    priority: float
    assignee: str | None


@dataclasses.dataclass(frozen=True)
class AnnotateFloor:
    """Where a schema's annotate claims start looking (storage/tables.py: annotate_floors)."""

    schema_uuid: str
    floor_seq: int  # an object creation seq: below it, nothing left to claim
    generation: int  # how many times it was lowered


class RecordTable(Generic[R]):
    """A table whose rows are `record`s. `key`: the columns that find one row (within its
    dataset, for tables with `dataset_id`); `changing`: the fields the rules change in a row
    already written (its UPDATE sets only those: SQLite rewrites the index entries of every
    column an UPDATE sets, changed or not); `generated`: fields the database assigns on insert;
    `extra`: columns that are not fields of the record."""

    def __init__(self, table: Table, record: type[R], key: Sequence[str],
                 changing: Sequence[str] = (), extra: Sequence[str] = (),
                 generated: Sequence[str] = ()) -> None:
        self.table = table
        self.record = record
        self.key = tuple(key)
        described = dataclasses.fields(record)  # type: ignore[arg-type]  # R: any dataclass
        self.fields = tuple(f.name for f in described)
        self.scoped = "dataset_id" in table.c
        hints = typing.get_type_hints(record)
        self._booleans = tuple(i for i, name in enumerate(self.fields) if hints[name] is bool)
        expected = {*self.fields, *extra, *(["dataset_id"] if self.scoped else [])}
        if expected != set(table.c.keys()):
            raise RuntimeError(
                f"table {table.name} and record {record.__name__} disagree: columns "
                f"{sorted(set(table.c.keys()) - expected)} have no field, fields "
                f"{sorted(expected - set(table.c.keys()))} have no column")
        if not set(changing) <= set(self.fields) - set(self.key):
            raise RuntimeError(f"{record.__name__}: `changing` must name fields outside the key")
        self.columns = [table.c[name] for name in self.fields]
        self.inserted = [name for name in self.fields if name not in generated]
        self.changing = tuple(changing)
        self._inserted_values = _getter(self.inserted)
        self._key_names = [f"p_{name}" for name in self.key]
        self._update_names = [f"p_{name}" for name in (*self.key, *self.changing)]
        self._update_values = _getter([*self.key, *self.changing])

    # --- reading ------------------------------------------------------------------------------

    def select(self) -> Select[Any]:
        """SELECT of the record's columns, in field order (so `from_row` can read the rows)."""
        return select(*self.columns)

    def from_row(self, row: Sequence[Any]) -> R:
        """The record of a row selected by `select()` (booleans as bool whatever the driver
        returns: SQLite's cursor gives 0 and 1)."""
        if not self._booleans:
            return self.record(*row)
        values = list(row)
        for i in self._booleans:
            values[i] = bool(values[i])
        return self.record(*values)

    def key_condition(self) -> list[ColumnElement[bool]]:
        """WHERE of one row: parameters p_dataset_id (scoped tables) and p_<key column>."""
        scope = ["dataset_id"] if self.scoped else []
        return [self.table.c[name] == bindparam(f"p_{name}") for name in (*scope, *self.key)]

    def lookup(self) -> Prepared:
        """The record with a key, run on the write path's cursor (see `key_params`)."""
        return Prepared(self.select().where(*self.key_condition()))

    def key_params(self, dataset_id: int | None, *key: Any) -> dict[str, Any]:
        params = dict(zip(self._key_names, key, strict=True))
        if self.scoped:
            params["p_dataset_id"] = dataset_id
        return params

    # --- writing ------------------------------------------------------------------------------

    def inserter(self, *given: str, **computed: Any) -> Prepared:
        """INSERT of one record (`insert_params`). Extra columns: `given`, whose values the
        caller adds to the parameters, and `computed`, given by SQL expressions."""
        statement = insert(self.table)
        if computed:
            statement = statement.values(**computed)
        scope = ["dataset_id"] if self.scoped else []
        return Prepared(statement, [*scope, *self.inserted, *given])

    def insert_params(self, dataset_id: int | None, record: R) -> dict[str, Any]:
        params = dict(zip(self.inserted, self._inserted_values(record), strict=True))
        if self.scoped:
            params["dataset_id"] = dataset_id
        return params

    def updater(self) -> Prepared:
        """UPDATE of the `changing` fields of one row, from a record (`update_params`)."""
        return Prepared(update(self.table).where(*self.key_condition()).values(
            {name: bindparam(f"p_{name}") for name in self.changing}))

    def update_params(self, dataset_id: int | None, record: R) -> dict[str, Any]:
        params = dict(zip(self._update_names, self._update_values(record), strict=True))
        if self.scoped:
            params["p_dataset_id"] = dataset_id
        return params


def _getter(names: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """Reads a record's values for a statement's parameters, in one C call (attrgetter), always
    as a tuple (attrgetter of one name returns the bare value)."""
    if not names:  # (a table whose key is its dataset alone, with nothing changing)
        return lambda record: ()
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda record: (one(record),)
    return operator.attrgetter(*names)


DATASETS = RecordTable(t.datasets, Dataset, key=["name"], generated=["id"])
USERS = RecordTable(t.users, User, key=["name"])
RELEASES = RecordTable(t.releases, Release, key=["name"], generated=["id"])
OWNERS = RecordTable(t.owners, Owner, key=["username"])
MEMBERS = RecordTable(t.members, Member, key=["username"], changing=["role"])
LEASES = RecordTable(t.queue_leases, Lease, key=["id"], changing=["expires_at"])
QUEUED_OBJECTS = RecordTable(t.object_queue, QueuedObject, key=["object_uuid"],
                             changing=["priority", "assignee"])
FLOORS = RecordTable(t.annotate_floors, AnnotateFloor, key=["schema_uuid"],
                     changing=["floor_seq", "generation"])
MERKLE_NODES = RecordTable(t.merkle_nodes, MerkleNode, key=["level", "position"])
LOG_KEYS = RecordTable(t.log_keys, LogKey, key=["id"], generated=["id"])
SETTINGS = RecordTable(t.dataset_settings, Settings, key=[])  # one row per dataset, or none
ITEMS = RecordTable(t.items, Item, key=["uuid"], changing=["versions"])
# A version also stores its item's `created_seq` (so status lists run in creation order on one
# index); the insert takes it from the item row.
VERSIONS = RecordTable(t.versions, Version, key=["uuid", "version"],
                       changing=["create_pending", "create_rejected", "delete_pending",
                                 "delete_accepted", "reviewed_seq", "deleted_seq",
                                 "delete_requested_seq"],
                       extra=["created_seq"])
LINKS = RecordTable(t.annotation_links, Link,
                    key=["annotation_uuid", "object_uuid", "object_version"])
# The log: each event's JSON exactly as hashed plus `integrity`; the other columns are what the
# rules need to know about it (EventInfo), of which a review changes `review`.
EVENTS = RecordTable(t.events, EventInfo, key=["uuid"], changing=["review", "reviewed_seq"],
                     extra=["body", "integrity"])

# Derived from each annotation version's bytes when it is created (not from the log alone, so
# not in PROJECTION_TABLES: `verify` recomputes it from the stored bytes, gonk/stats.py).
LABELS = RecordTable(t.annotation_labels, AnnotationLabel,
                     key=["annotation_uuid", "annotation_version", "position"])

PROJECTION_TABLES = (OWNERS, MEMBERS, SETTINGS, ITEMS, VERSIONS, LINKS, EVENTS)
"""The tables derived from the log (events: their EventInfo part), which `verify` rebuilds from
the log alone and compares (projection.SqlState.snapshot reads each of them)."""
