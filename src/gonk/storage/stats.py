"""Dataset statistics in SQL, and the annotation_labels table they read (gonk/stats.py shapes
them; GET /datasets/D/stats).

Every count is an aggregate over one dataset at one point `at` of its log (an event's seq; the
latest event for "now"), stated with the as-of conditions of points.py, so that the same
statements answer `?as_of=` and the current state, and none replays the log or reads a byte.
Four statements, each reading a dataset's rows in index order (no lookup per row where a range
will do: at 100,000 items, lookups by uuid land on random pages of a large index):

- per kind (kind_totals): one range of versions_in_order (dataset, kind, created by `at`),
  each item's versions side by side, so that window functions give each row its item's newest
  version then and its version in the content then; summed into the **status counts** (each
  item by its newest version's status words, as the status lists have them) and the
  **content's items and bytes** (what a release at `at` holds: per item its newest version
  accepted and not deleted there);
- the annotations in the content (annotation_content), in one statement: the annotations'
  candidates as above; the object versions that are *not* their object's content version
  (as a rule few) and the annotations attached to one of them (links_by_object), which are
  stale; then the candidates but the stale ones, counted, joined to their links (**annotated
  objects**: the distinct objects they are attached to, all in the content) and to their
  annotation_labels rows (**labels**, summed per schema, kind and label), both by primary key.

tests/integration/test_query_plans.py checks SQLite's plan of each (no scan of a table; every
table narrowed to one dataset and kind, or one item, by an index).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    case,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
)

from ..domain import rules
from ..domain.content import Labels
from . import points
from . import tables as t
from .records import LABELS, AnnotationLabel

V, L, ITEM = t.versions.c, t.annotation_labels.c, t.items.c

STATUS_WORDS = ("accepted", "pending", "deleted", "rejected")
"""The words of the status lists (rules.Version.status_words; schemas say "deprecated" for
"deleted": the caller renames it)."""

CTE_PREFIX = "stats_"
"""The statements' subqueries and materialized parts are named stats_...: reading their rows is
not a scan of a table (tests/integration/test_query_plans.py)."""

_INSERT_LABEL = LABELS.inserter()


# --- writing labels ---------------------------------------------------------------------------

def label_json(label: str) -> str:
    """A label as stored: a JSON string, readable (non-ASCII as is) unless the label holds a lone
    surrogate, which UTF-8 cannot carry (then \\u escapes). Any label thus stores on every
    database (a NUL is written \\u0000), and json.loads gives it back exactly."""
    text = json.dumps(label, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(label)
    return text


def label_rows(annotation_uuid: str, version: int, labels: Labels) -> list[AnnotationLabel]:
    """The rows of one annotation version's labels, numbered in the order of labels.counts."""
    return [AnnotationLabel(annotation_uuid, version, position, labels.kind, label_json(label),
                            count)
            for position, (label, count) in enumerate(labels.counts)]


def insert_labels(conn: Connection, dataset_id: int, rows: Sequence[AnnotationLabel]) -> None:
    """Store label rows (the write path: DatasetLog.append, in the event's transaction)."""
    if rows:
        _INSERT_LABEL.run_many(conn, [LABELS.insert_params(dataset_id, row) for row in rows])


# --- the statistics at a point ----------------------------------------------------------------

def begin(conn: Connection) -> None:
    """Prepare the read transaction of one request's statistics. PostgreSQL: no JIT compiling
    for its statements (SET LOCAL: this transaction only), whose estimated cost at 100,000
    items is past jit_above_cost: compiling took 0.75 s of a 2.4 s statement there, and one
    pass over a dataset's rows never earns it back."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")


def _accepted(at: int) -> Any:
    """points.status_at("accepted"), on the versions' own columns (no subquery)."""
    return and_(V.reviewed_seq <= at, V.create_rejected.is_(False),
                or_(V.deleted_seq.is_(None), V.deleted_seq > at))


def _versions_at(dataset_id: int, kind: str, at: int, *columns: Any,
                 newest: bool = False) -> Any:
    """The versions of `kind` that existed at `at` (one range of versions_in_order, read in its
    order), with `columns` and, per row, its item's version in the content then
    (`content_version`: the newest accepted and not deleted; None for none) and with `newest`
    its item's newest version number then. Window functions over each item's versions
    (PARTITION BY the item's creation position, which the index gives in order: no sort, and
    no lookup per version): a version's newer versions are its neighbours in the range."""
    windows = [func.max(case((_accepted(at), V.version))).over(
        partition_by=V.created_seq).label("content_version")]
    if newest:
        windows.append(func.max(V.version).over(partition_by=V.created_seq).label("newest"))
    return select(V.version, *columns, *windows).where(
        V.dataset_id == dataset_id, V.kind == kind, V.created_seq <= at,
        V.added_seq <= at).subquery(f"{CTE_PREFIX}{kind}_versions")


def kind_totals(conn: Connection, dataset_id: int, kind: str, at: int
                ) -> tuple[dict[str, int], int, int]:
    """For the items of `kind` that existed at `at`: how many had their newest version then in
    each status list (STATUS_WORDS, by points.status_at: an item whose accepted version awaits
    a deletion is in "accepted" and "pending", as the status lists have it), and the items and
    bytes of the content there (for annotations without the staleness rule: see
    annotation_content). One pass over the kind's versions."""
    flags = [case((points.status_at(word, at), 1), else_=0).label(word) for word in STATUS_WORDS]
    rows = _versions_at(dataset_id, kind, at, V.size, *flags, newest=True)
    newest = rows.c.version == rows.c.newest
    in_content = rows.c.version == rows.c.content_version
    found = conn.execute(select(
        *[func.coalesce(func.sum(case((newest, rows.c[word]), else_=0)), 0)
          for word in STATUS_WORDS],
        func.count(case((in_content, 1))),
        func.coalesce(func.sum(case((in_content, rows.c.size), else_=0)), 0))).one()
    counts = {word: int(found[i]) for i, word in enumerate(STATUS_WORDS)}
    return counts, int(found[-2]), int(found[-1])


@dataclass(frozen=True)
class AnnotationContent:
    """The annotations in the content at a point: how many, their bytes, the objects they are
    attached to, and their labels summed: (schema uuid, kind, label_json, count) per distinct
    (schema uuid, kind, label_json), unordered."""

    count: int
    bytes: int
    annotated_objects: int
    labels: list[tuple[str, str, str, int]]


def annotation_content(conn: Connection, dataset_id: int, at: int) -> AnnotationContent:
    """The annotations in the content at `at` (see AnnotationContent), in one statement whose
    parts are materialized once (WITH ... AS MATERIALIZED):

    - candidates: each annotation's version in the content at `at` but for staleness (one pass
      over the annotations' versions: _versions_at);
    - other_objects: the object versions that existed at `at` and are not their object's
      version in the content there (one pass over the objects' versions; few, as a rule);
    - stale: the annotations attached to one of those (links_by_object, per version);
    - content: the candidates but the stale ones;

    then counted and summed, joined to their links (the distinct objects: links' primary key)
    and to their label rows (annotation_labels' primary key), by the three parts of a UNION
    ALL. (IN and NOT IN lists and joins on an index only: a join of two materialized parts
    could make SQLite compare every row of one with every row of the other.)"""
    def materialized(query: Any, name: str) -> Any:
        return query.cte(CTE_PREFIX + name).prefix_with("MATERIALIZED")

    # (each item's last accepted version in creation order: "the next accepted version is
    # another item's", which PostgreSQL expects of most rows, as they are, and so joins the
    # content to links and labels by hashing, not by a lookup per row)
    accepted = select(
        V.dataset_id, V.uuid, V.version, V.size, V.schema_uuid, V.created_seq,
        func.lead(V.created_seq).over(order_by=(V.created_seq, V.version)).label("next_item"),
    ).where(V.dataset_id == dataset_id, V.kind == rules.ANNOTATION, V.created_seq <= at,
            _accepted(at)).subquery(f"{CTE_PREFIX}accepted_annotations")
    a = accepted.c
    candidates = materialized(select(a.dataset_id, a.uuid, a.version, a.size, a.schema_uuid).where(
        a.next_item.is_distinct_from(a.created_seq)), "candidates")
    objects = _versions_at(dataset_id, rules.OBJECT, at, V.uuid)
    other_objects = materialized(select(objects.c.uuid, objects.c.version).where(or_(
        objects.c.content_version.is_(None), objects.c.version != objects.c.content_version)),
        "other_objects")
    link = t.annotation_links.c
    stale = materialized(select(link.annotation_uuid).where(
        link.dataset_id == dataset_id,
        tuple_(link.object_uuid, link.object_version).in_(select(other_objects))), "stale")
    content = materialized(select(candidates).where(
        candidates.c.uuid.not_in(select(stale.c.annotation_uuid))), "content")
    c = content.c
    nothing = null().cast(String)
    # (the joins go through the content's dataset_id, not the constant: SQLite then reads the
    # links and labels of each annotation in it by primary key)
    query = union_all(
        select(literal("totals"), func.count(), func.coalesce(func.sum(c.size), 0),
               nothing, nothing, nothing).select_from(content),
        select(literal("objects"), func.count(link.object_uuid.distinct()), literal(0),
               nothing, nothing, nothing).select_from(content.join(t.annotation_links, and_(
                   link.dataset_id == c.dataset_id, link.annotation_uuid == c.uuid))),
        select(literal("label"), func.sum(L["count"]), literal(0), c.schema_uuid, L.kind,
               L.label_json).select_from(content.join(t.annotation_labels, and_(
                   L.dataset_id == c.dataset_id, L.annotation_uuid == c.uuid,
                   L.annotation_version == c.version))).group_by(
            # (the label first: SQLite sorts the rows to group them, faster so)
            L.label_json, L.kind, c.schema_uuid))
    count = size = annotated = 0
    labels = []
    for part, number, total, schema_uuid, kind, text in conn.execute(query):
        if part == "totals":
            count, size = int(number), int(total)
        elif part == "objects":
            annotated = int(number)
        else:
            labels.append((schema_uuid, kind, text, int(number)))
    return AnnotationContent(count, size, annotated, labels)


def schema_names(conn: Connection, dataset_id: int, schema_uuids: Iterable[str]
                 ) -> dict[str, str]:
    """The name of each schema item (by primary key, a batch at a time)."""
    wanted = sorted(set(schema_uuids))
    names: dict[str, str] = {}
    for start in range(0, len(wanted), points.BATCH):
        names.update((uuid, name) for uuid, name in conn.execute(select(ITEM.uuid, ITEM.name).where(
            ITEM.dataset_id == dataset_id, ITEM.uuid.in_(wanted[start:start + points.BATCH]))))
    return names


# --- reading annotation versions and their labels (migrate, verify, copy) ---------------------

def annotation_items(conn: Connection, dataset_id: int, after_seq: int, count: int
                     ) -> list[tuple[str, int]]:
    """(uuid, created_seq) of up to `count` annotations created after position `after_seq`,
    in creation order (items_in_order)."""
    return [(row[0], row[1]) for row in conn.execute(select(ITEM.uuid, ITEM.created_seq).where(
        ITEM.dataset_id == dataset_id, ITEM.kind == rules.ANNOTATION,
        ITEM.created_seq > after_seq).order_by(ITEM.created_seq).limit(count))]


def annotation_versions(conn: Connection, dataset_id: int, uuids: Sequence[str]) -> list[Any]:
    """Every version of these annotations (by primary key, a batch at a time): rows of (uuid,
    version, hash, schema_uuid, schema_version)."""
    found: list[Any] = []
    for start in range(0, len(uuids), points.BATCH):
        found += conn.execute(select(
            V.uuid, V.version, V.hash, V.schema_uuid, V.schema_version).where(
            V.dataset_id == dataset_id,
            V.uuid.in_(list(uuids[start:start + points.BATCH])))).all()
    return found


def version_hash(conn: Connection, dataset_id: int, item_uuid: str, number: int) -> str | None:
    """The hash of one version's bytes (a schema's, to learn its kind)."""
    return conn.execute(select(V.hash).where(V.dataset_id == dataset_id, V.uuid == item_uuid,
                                             V.version == number)).scalar()


def labels_of_versions(conn: Connection, dataset_id: int, uuids: Sequence[str]
                       ) -> list[AnnotationLabel]:
    """The label rows of every version of these annotations (a batch at a time)."""
    found: list[AnnotationLabel] = []
    for start in range(0, len(uuids), points.BATCH):
        found += [LABELS.from_row(row) for row in conn.execute(LABELS.select().where(
            L.dataset_id == dataset_id,
            L.annotation_uuid.in_(list(uuids[start:start + points.BATCH]))))]
    return found


def label_row_count(conn: Connection, dataset_id: int) -> int:
    return int(conn.execute(select(func.count()).select_from(t.annotation_labels).where(
        L.dataset_id == dataset_id)).scalar_one())


__all__ = [
    "STATUS_WORDS",
    "AnnotationContent",
    "AnnotationLabel",
    "annotation_content",
    "annotation_items",
    "annotation_versions",
    "begin",
    "insert_labels",
    "kind_totals",
    "label_json",
    "label_row_count",
    "label_rows",
    "labels_of_versions",
    "schema_names",
    "version_hash",
]
