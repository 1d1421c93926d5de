"""Reading a dataset at a point of its log: "right after event #seq".

A version records where in the log each of its status flags changed (rules.Version: added_seq,
reviewed_seq, deleted_seq, delete_requested_seq) and an event records the review that decided it
(reviewed_seq), so a status at any earlier point is one condition on a row: no request replays
the log. This module holds those conditions (used by reads.py for the as-of variant of every
list and load) and the **content** at a point, which releases, their manifests and diffs read:

    for each object, schema and annotation uuid, its newest version that was accepted and not
    deleted at the point; an annotation only when every object version it links to is in the
    content (the others are "stale").

The content is read item by item in creation order, a batch of items per query, so a release of
a dataset of any size streams in constant memory, and a page of a diff costs the same at its
first and its last page.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, literal_column, or_, select

from ..domain import rules
from ..domain.events import DELETE_TYPES, REVIEW_ACCEPT
from ..domain.rules import Version
from . import tables as t
from .records import VERSIONS

V, E, ITEM, LINK = t.versions.c, t.events.c, t.items.c, t.annotation_links.c

KINDS = (rules.SCHEMA, rules.OBJECT, rules.ANNOTATION)
"""The order of a manifest and of a diff: schemas, then objects, then annotations."""

BATCH = 500
"""Items read per batch of content (and uuids per IN list: under every SQLite build's limit of
bound parameters)."""


# --- statuses at a point, as SQL conditions on `versions` ------------------------------------

def exists_at(at: int) -> Any:
    """The version had been created (its create or update event was at or before `at`)."""
    return V.added_seq <= at


def _deletion_pending_at(at: int) -> Any:
    """A deletion of the version had been requested and not yet reviewed at `at`. The first
    request's position (a column of the row) rules out every version never asked to be deleted
    (IS NOT NULL first: NULL <= at is NULL, not false, and would not spare the lookup) before
    the log's delete events are looked at, by events_by_target, for that version only:
    `seq + 0`, because on `seq` itself SQLite would rather walk the log's primary key up to
    `at` for each such version (the whole log at a late point: 1.5 s for a page of pending
    objects of a dataset of 10,000; milliseconds on events_by_target); and a scalar subquery
    with LIMIT 1 rather than EXISTS, which PostgreSQL may run as one hashed scan of every
    dataset's events when it expects many versions to ask (a count over a whole dataset)."""
    asked = select(literal_column("1")).where(
        E.dataset_id == V.dataset_id, E.target_uuid == V.uuid, E.target_version == V.version,
        E.type.in_(sorted(DELETE_TYPES)), E.seq + literal_column("0") <= at,
        or_(E.reviewed_seq.is_(None), E.reviewed_seq > at)).limit(1).scalar_subquery()
    return and_(V.delete_requested_seq.isnot(None), V.delete_requested_seq <= at,
                asked.isnot(None))


def status_at(status: str, at: int) -> Any:
    """The condition for one status word (rules.Version.status_words) at `at`, for versions
    that existed then (combine with exists_at)."""
    decided = V.reviewed_seq <= at
    not_deleted = or_(V.deleted_seq.is_(None), V.deleted_seq > at)
    return {
        "accepted": and_(decided, V.create_rejected.is_(False), not_deleted),
        "pending": or_(V.reviewed_seq.is_(None), V.reviewed_seq > at, _deletion_pending_at(at)),
        "deleted": V.deleted_seq <= at,
        "rejected": and_(V.create_rejected.is_(True), decided),
    }[status]


def live_at(at: int) -> Any:
    """Neither rejected nor deleted at `at` (rules.Version.live, then)."""
    return and_(or_(V.create_rejected.is_(False), V.reviewed_seq.is_(None), V.reviewed_seq > at),
                or_(V.deleted_seq.is_(None), V.deleted_seq > at))


def accepted_at(version: Version, at: int) -> bool:
    """In the content at `at`: accepted by then and not deleted by then (Python's form of
    status_at("accepted"), for rows already read)."""
    return (version.reviewed_seq is not None and version.reviewed_seq <= at
            and not version.create_rejected
            and (version.deleted_seq is None or version.deleted_seq > at))


def newest_version_at(at: int, dataset_id: Any, item_uuid: Any) -> Any:
    """Scalar subquery: the newest version number of an item that existed at `at` (None before
    the item was created). Versions are created in order, so the item had this many plus one
    versions then."""
    v2 = t.versions.alias("v_at")
    return select(v2.c.version).where(
        v2.c.dataset_id == dataset_id, v2.c.uuid == item_uuid, v2.c.added_seq <= at,
    ).order_by(v2.c.version.desc()).limit(1).scalar_subquery()


# --- the content at a point ------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One version in the content at a point: a line of a manifest."""

    version: Version
    created_seq: int  # its item's creation position (the order of manifests and diffs)
    objects: tuple[tuple[str, int], ...] = ()  # annotations: linked object versions, sorted


@dataclass(frozen=True)
class ItemAt:
    """One item and what it was in the content at each of several points (None: not in the
    content there)."""

    kind: str
    uuid: str
    created_seq: int
    at: tuple[Entry | None, ...]
    stale: tuple[bool, ...]  # an annotation accepted there but linked to an object that is not


def items_at(conn: Connection, dataset_id: int, kind: str, points: Sequence[int],
             after_seq: int = 0, count: int = BATCH) -> list[ItemAt]:
    """Up to `count` items of `kind` created after position `after_seq`, in creation order,
    each with its content entry at every point of `points`. Three or four indexed queries,
    whatever the position."""
    # (items created after every point are in none of the contents)
    items = conn.execute(select(ITEM.uuid, ITEM.created_seq).where(
        ITEM.dataset_id == dataset_id, ITEM.kind == kind, ITEM.created_seq > after_seq,
        ITEM.created_seq <= max(points),
    ).order_by(ITEM.created_seq).limit(count)).all()
    return items_listed_at(conn, dataset_id, kind, items, points)


def items_listed_at(conn: Connection, dataset_id: int, kind: str, items: Sequence[Any],
                    points: Sequence[int], in_range: bool = True) -> list[ItemAt]:
    """items_at for given items ((uuid, created_seq) rows of one kind, in creation order):
    their versions are read as one range of versions_in_order (`in_range`: the items are
    consecutive) or by primary key (scattered items, at most BATCH)."""
    if not items:
        return []
    first, last = items[0][1], items[-1][1]
    # Only versions ever accepted can be in a content.
    where = [V.dataset_id == dataset_id, V.reviewed_seq.isnot(None), V.create_rejected.is_(False)]
    if in_range:
        where += [V.kind == kind, V.created_seq >= first, V.created_seq <= last]
    else:
        where.append(V.uuid.in_([uuid for uuid, _ in items]))
    candidates: dict[str, list[Version]] = {}
    for row in conn.execute(VERSIONS.select().where(*where)).all():
        version = VERSIONS.from_row(row)
        candidates.setdefault(version.uuid, []).append(version)
    chosen = {uuid: tuple(_newest_accepted(found, at) for at in points)
              for uuid, found in candidates.items()}
    links: dict[str, tuple[tuple[str, int], ...]] = {}
    objects_at: dict[str, tuple[int | None, ...]] = {}
    if kind == rules.ANNOTATION and chosen:
        links = _links(conn, dataset_id, list(chosen))
        objects_at = _object_versions_at(
            conn, dataset_id, sorted({o for linked in links.values() for o, _ in linked}), points)
    result = []
    for item_uuid, created_seq in items:
        entries: list[Entry | None] = []
        stale: list[bool] = []
        for i, picked in enumerate(chosen.get(item_uuid, (None,) * len(points))):
            if picked is None:
                entries.append(None)
                stale.append(False)
                continue
            linked = links.get(item_uuid, ())
            if any(objects_at.get(o, ())[i:i + 1] != (v,) for o, v in linked):
                entries.append(None)
                stale.append(True)
                continue
            entries.append(Entry(picked, created_seq, linked))
            stale.append(False)
        result.append(ItemAt(kind, item_uuid, created_seq, tuple(entries), tuple(stale)))
    return result


def _newest_accepted(versions: list[Version], at: int) -> Version | None:
    best: Version | None = None
    for version in versions:
        if accepted_at(version, at) and (best is None or version.version > best.version):
            best = version
    return best


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), BATCH):
        yield values[start:start + BATCH]


# IN lists as one expanding parameter: built once, not one bound literal per uuid per query
_LINKS_OF = select(LINK.annotation_uuid, LINK.object_uuid, LINK.object_version).where(
    LINK.dataset_id == bindparam("p_dataset_id"),
    LINK.annotation_uuid.in_(bindparam("p_uuids", expanding=True)))


def _links(conn: Connection, dataset_id: int,
           annotation_uuids: list[str]) -> dict[str, tuple[tuple[str, int], ...]]:
    """The object versions each annotation links to, sorted (as a manifest lists them)."""
    found: dict[str, list[tuple[str, int]]] = {}
    for chunk in _chunks(annotation_uuids):
        for annotation_uuid, object_uuid, object_version in conn.execute(_LINKS_OF, {
                "p_dataset_id": dataset_id, "p_uuids": list(chunk)}).all():
            found.setdefault(annotation_uuid, []).append((object_uuid, object_version))
    return {uuid: tuple(sorted(linked)) for uuid, linked in found.items()}


def _object_versions_at(conn: Connection, dataset_id: int, object_uuids: list[str],
                        points: Sequence[int]) -> dict[str, tuple[int | None, ...]]:
    """Per object, the version in the content at each point (None: none)."""
    candidates: dict[str, list[Version]] = {}
    for chunk in _chunks(object_uuids):
        for row in conn.execute(VERSIONS.select().where(
                V.dataset_id == dataset_id, V.uuid.in_(chunk), V.reviewed_seq.isnot(None),
                V.create_rejected.is_(False))):
            version = VERSIONS.from_row(row)
            candidates.setdefault(version.uuid, []).append(version)
    result = {}
    for uuid, found in candidates.items():
        newest = (_newest_accepted(found, at) for at in points)
        result[uuid] = tuple(v.version if v is not None else None for v in newest)
    return result


CANDIDATE_EVENTS = 20_000
"""Between two points at most this many events apart, a diff reads only the items that the
accepts in between can have changed (changed_items); farther apart, it reads every item."""


def changed_items(conn: Connection, dataset_id: int, start: int, end: int
                  ) -> list[tuple[str, str, int]] | None:
    """(kind, uuid, created_seq) of every item whose content may differ between two points, in
    diff order (kind, then creation), or None when the points are more than CANDIDATE_EVENTS
    apart. A content changes only by an accept: of a create or update (the version enters it)
    or of a deletion (it leaves); an annotation also enters or leaves it when an object it is
    attached to changes. So the candidates are the targets of the accepts between the points
    (a range of the log's primary key) and the annotations attached to those objects
    (links_by_object)."""
    low, high = min(start, end), max(start, end)
    if high - low > CANDIDATE_EVENTS:
        return None
    targets = set(conn.execute(select(E.target_uuid).where(
        E.dataset_id == dataset_id, E.seq > low, E.seq <= high,
        E.type == REVIEW_ACCEPT)).scalars().all())
    found: dict[str, tuple[str, int]] = {}
    for chunk in _chunks(sorted(targets)):
        for uuid, kind, created_seq in conn.execute(select(
                ITEM.uuid, ITEM.kind, ITEM.created_seq).where(
                ITEM.dataset_id == dataset_id, ITEM.uuid.in_(chunk))).all():
            found[uuid] = (kind, created_seq)
    objects = sorted(uuid for uuid, (kind, _) in found.items() if kind == rules.OBJECT)
    for chunk in _chunks(objects):
        # (no DISTINCT: it would lead SQLite to walk the primary key instead of links_by_object)
        attached = conn.execute(select(LINK.annotation_uuid).where(
            LINK.dataset_id == dataset_id, LINK.object_uuid.in_(chunk))).scalars().all()
        for inner in _chunks(sorted(set(attached) - set(found))):
            for uuid, kind, created_seq in conn.execute(select(
                    ITEM.uuid, ITEM.kind, ITEM.created_seq).where(
                    ITEM.dataset_id == dataset_id, ITEM.uuid.in_(inner))).all():
                found[uuid] = (kind, created_seq)
    return sorted(((kind, uuid, created_seq) for uuid, (kind, created_seq) in found.items()),
                  key=lambda c: (KINDS.index(c[0]), c[2]))


# --- the content at one point, fast (releases and their manifests) ----------------------------

class ContentRow(NamedTuple):
    """One version in the content at a point, as a manifest line needs it."""

    kind: str
    uuid: str
    version: int
    name: str | None
    format: str | None
    size: int
    hash: str
    schema_uuid: str | None
    schema_version: int | None
    created_seq: int
    objects: tuple[tuple[str, int], ...]  # annotations: linked object versions, sorted


CONTENT_ROWS = 2000
"""Version rows read per query of content_chunk."""

_CONTENT_COLUMNS = (V.uuid, V.version, V.name, V.format, V.size, V.hash, V.schema_uuid,
                    V.schema_version, V.created_seq)


def _accepted_at(at: int) -> Any:
    """status_at("accepted"), stated for the versions' own columns only."""
    return and_(V.reviewed_seq <= at, V.create_rejected.is_(False),
                or_(V.deleted_seq.is_(None), V.deleted_seq > at))


def content_chunk(conn: Connection, dataset_id: int, kind: str, at: int, after_seq: int
                  ) -> tuple[list[ContentRow], int, int | None]:
    """The next items of `kind` in the content at `at`, created after position `after_seq`:
    (rows in creation order, stale annotations among the items read, the `after_seq` of the
    next chunk or None at the end). One range of versions_in_order, filtered by the point's
    "accepted" condition in SQL; for annotations one more query per 500 for their links and
    one for the linked objects' versions at the point."""
    rows: list[Any] = list(conn.execute(select(*_CONTENT_COLUMNS).where(
        V.dataset_id == dataset_id, V.kind == kind, V.created_seq > after_seq,
        V.created_seq <= at, _accepted_at(at),
    ).order_by(V.created_seq, V.version).limit(CONTENT_ROWS)).all())
    if not rows:
        return [], 0, None
    following: int | None = rows[-1].created_seq
    if len(rows) == CONTENT_ROWS:
        # the last item's versions may go on past the limit: it starts the next chunk, unless
        # it is the only item here (then its remaining versions are read now)
        last = rows[-1].created_seq
        complete = [row for row in rows if row.created_seq != last]
        if complete:
            rows, following = complete, complete[-1].created_seq
        else:
            rows += conn.execute(select(*_CONTENT_COLUMNS).where(
                V.dataset_id == dataset_id, V.kind == kind, V.created_seq == last,
                V.version > rows[-1].version, _accepted_at(at)).order_by(V.version)).all()
    else:
        following = None
    newest: dict[int, Any] = {}
    for row in rows:  # by creation, then version: the last row of an item is its newest
        newest[row.created_seq] = row
    chosen = list(newest.values())
    if kind != rules.ANNOTATION:
        return [_content_row(kind, row, ()) for row in chosen], 0, following
    links = _links(conn, dataset_id, [row.uuid for row in chosen])
    objects = _object_versions_at_point(
        conn, dataset_id, sorted({o for linked in links.values() for o, _ in linked}), at)
    result, stale = [], 0
    for row in chosen:
        linked = links.get(row.uuid, ())
        if all(objects.get(o) == v for o, v in linked):
            result.append(_content_row(kind, row, linked))
        else:
            stale += 1
    return result, stale, following


def _content_row(kind: str, row: Any, objects: tuple[tuple[str, int], ...]) -> ContentRow:
    return ContentRow(kind, row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                      row[8], objects)


_VERSIONS_AT = select(V.uuid, V.version).where(
    V.dataset_id == bindparam("p_dataset_id"), V.uuid.in_(bindparam("p_uuids", expanding=True)),
    V.reviewed_seq <= bindparam("p_at"), V.create_rejected.is_(False),
    or_(V.deleted_seq.is_(None), V.deleted_seq > bindparam("p_at")))


def _object_versions_at_point(conn: Connection, dataset_id: int, object_uuids: list[str],
                              at: int) -> dict[str, int]:
    """Per object, the version in the content at `at` (objects with none are left out)."""
    found: dict[str, int] = {}
    for chunk in _chunks(object_uuids):
        for uuid, version in conn.execute(_VERSIONS_AT, {
                "p_dataset_id": dataset_id, "p_uuids": list(chunk), "p_at": at}).all():
            if version > found.get(uuid, -1):
                found[uuid] = version
    return found
