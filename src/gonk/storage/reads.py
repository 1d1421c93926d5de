"""The read side's queries: pages of items and versions, one version, what is attached to what,
pages of the log. Each takes `at`: None for the current state, or a position in the log (an
event's seq) to answer as of right after that event (the conditions are in points.py). Each returns records (records.py) or plain values; gonk/queries.py shapes them
as the API answers.

Every query here is narrowed by an index to the rows it needs (tests/integration/
test_query_plans.py checks SQLite's plan of each). Where a query returns a handful of rows, they
are sorted in Python: an ORDER BY would lead SQLite to walk a dataset in primary-key order
instead of using the narrower index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from ..domain import rules
from ..domain.events import PENDING
from ..domain.rules import EventInfo, Item, Version
from . import points
from . import tables as t
from .projection import LIVE, SCHEMA_NAMED
from .records import EVENTS, ITEMS, VERSIONS

ITEM, V, E, LINK = t.items.c, t.versions.c, t.events.c, t.annotation_links.c


def status_condition(status: str, at: int | None = None) -> Any:
    """The SQL form of Version.status_words for one status word (at a point: as it was
    then)."""
    if at is not None:
        return and_(points.exists_at(at), points.status_at(status, at))
    return {
        "accepted": and_(V.create_pending.is_(False), V.create_rejected.is_(False),
                         V.delete_accepted.is_(False)),
        "pending": or_(V.create_pending.is_(True), V.delete_pending.is_(True)),
        "deleted": V.delete_accepted.is_(True),
        "rejected": V.create_rejected.is_(True),
    }[status]


# --- owners and items ---------------------------------------------------------------------------


def owner_names(conn: Connection, dataset_id: int) -> list[str]:
    """The dataset's owners, highest rank (earliest added) first."""
    return list(conn.execute(select(t.owners.c.username).where(
        t.owners.c.dataset_id == dataset_id).order_by(t.owners.c.rank)).scalars())


def members(conn: Connection, dataset_id: int) -> list[tuple[str, str]]:
    """The dataset's members (user, role), by name."""
    return [(row.username, row.role) for row in conn.execute(
        select(t.members.c.username, t.members.c.role).where(
            t.members.c.dataset_id == dataset_id).order_by(t.members.c.username))]


def item(conn: Connection, dataset_id: int, item_uuid: str, at: int | None = None
         ) -> Item | None:
    """An item (at a point: None if it was created later, and with the versions it had)."""
    row = conn.execute(ITEMS.select().where(ITEM.dataset_id == dataset_id,
                                            ITEM.uuid == item_uuid)).first()
    found = ITEMS.from_row(row) if row is not None else None
    return _item_at(conn, dataset_id, found, at)


def _item_at(conn: Connection, dataset_id: int, found: Item | None, at: int | None
             ) -> Item | None:
    if found is None or at is None:
        return found
    if found.created_seq > at:
        return None
    if found.versions > 1:
        newest = conn.execute(select(func.max(V.version)).where(
            V.dataset_id == dataset_id, V.uuid == found.uuid, V.added_seq <= at)).scalar()
        found = replace(found, versions=newest + 1 if newest is not None else 0)
    return found


def schema_named(conn: Connection, dataset_id: int, name: str, at: int | None = None
                 ) -> Item | None:
    """The schema item a name refers to: the newest one created with that name (by `at`)."""
    if at is None:
        row = conn.execute(SCHEMA_NAMED, {"p_dataset_id": dataset_id, "p_name": name}).first()
        return ITEMS.from_row(row) if row is not None else None
    row = conn.execute(ITEMS.select().where(
        ITEM.dataset_id == dataset_id, ITEM.kind == rules.SCHEMA, ITEM.name == name,
        ITEM.created_seq <= at).order_by(ITEM.created_seq.desc()).limit(1)).first()
    return _item_at(conn, dataset_id, ITEMS.from_row(row) if row is not None else None, at)


def created_seq(conn: Connection, dataset_id: int, kind: str, item_uuid: str) -> int | None:
    """The creation position of an item of that kind (the cursor of pages), or None."""
    return conn.execute(select(ITEM.created_seq).where(
        ITEM.dataset_id == dataset_id, ITEM.kind == kind, ITEM.uuid == item_uuid)).scalar()


@dataclass(frozen=True)
class Listed:
    """An item of a list, with its newest version (whatever that version's status) and, for
    annotations, the name of the schema that version is validated against."""

    item: Item
    newest: Version
    schema_name: str | None = None


SCHEMA_ITEM = t.items.alias("schema_item")


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string starting with `prefix`, in code point order (the
    order of the name index: see tables.NAME), or None when there is none (a prefix of only
    U+10FFFF). So `prefix <= name < bound` is exactly "name starts with prefix", as an index
    range: no LIKE, whose wildcards (`%`, `_`) and case folding (SQLite) would need care."""
    chars = list(prefix)
    while chars:
        following = ord(chars.pop()) + 1
        if following <= 0x10FFFF:
            if 0xD800 <= following <= 0xDFFF:  # surrogates are in no stored text
                following = 0xE000
            return "".join(chars) + chr(following)
    return None


def schema_uuids_named(conn: Connection, dataset_id: int, name: str, at: int | None = None
                       ) -> list[str]:
    """Every schema ever created with this name (by `at`): a name passes to a new schema once
    every version of the old one is rejected or deprecated."""
    where = [ITEM.dataset_id == dataset_id, ITEM.kind == rules.SCHEMA, ITEM.name == name]
    if at is not None:
        where.append(ITEM.created_seq <= at)
    return list(conn.execute(select(ITEM.uuid).where(*where)).scalars())


def items_page(conn: Connection, dataset_id: int, kind: str, after_seq: int,
               limit: int | None, name: str | None = None, prefix: str | None = None,
               schema_uuids: Sequence[str] | None = None, at: int | None = None
               ) -> list[Listed]:
    """Items of one kind created after position `after_seq`, in creation order, each with its
    newest version (and, for annotations, its schema's name). Filters on the newest version:
    `name` (equal), `prefix` (the name starts with it) and `schema_uuids` (annotations validated
    against one of these schemas). Each filter is a range of a partial index (versions_by_name,
    versions_by_schema) and the newest-version test a primary-key lookup per row found.

    At a point `at`: the items created by then, each with its newest version then, and the
    filters apply to that version (unfiltered: _items_page_at)."""
    if at is not None and name is None and not prefix and schema_uuids is None:
        return _items_page_at(conn, dataset_id, kind, after_seq, limit, at)
    if at is None:
        newest = and_(V.dataset_id == ITEM.dataset_id, V.uuid == ITEM.uuid,
                      V.version == ITEM.versions - 1)
    else:
        newest = and_(V.dataset_id == ITEM.dataset_id, V.uuid == ITEM.uuid,
                      V.version == points.newest_version_at(at, ITEM.dataset_id, ITEM.uuid))
    columns = [*ITEMS.columns, *VERSIONS.columns]
    source = t.items.join(t.versions, newest)
    where: list[Any] = [ITEM.dataset_id == dataset_id, ITEM.kind == kind,
                        ITEM.created_seq > after_seq]
    order: Any = ITEM.created_seq
    if kind == rules.ANNOTATION:
        schema = SCHEMA_ITEM.c
        columns.append(schema.name)
        source = source.join(SCHEMA_ITEM, and_(schema.dataset_id == V.dataset_id,
                                               schema.uuid == V.schema_uuid))
    if name is not None or prefix or schema_uuids is not None:
        # Filtered: the versions' indexes lead (a version's created_seq is its item's), so the
        # conditions are stated on `versions`.
        where = [V.dataset_id == dataset_id, V.created_seq > after_seq]
        order = V.created_seq
        if schema_uuids is not None:
            # Only annotations have a schema_uuid: no `kind` term, which would tempt SQLite into
            # walking versions_in_order instead.
            where.append(V.schema_uuid.in_(list(schema_uuids)))
        else:
            where.append(V.kind == kind)
        if name is not None:
            where.append(V.name == name)  # versions_by_name gives them in creation order
        if prefix:
            where.append(V.name >= prefix)
            bound = prefix_upper_bound(prefix)
            if bound is not None:
                where.append(V.name < bound)
            if conn.dialect.name == "sqlite":
                # Without statistics, SQLite would rather walk versions_in_order to spare the
                # sort, testing every version of the dataset; an ORDER BY that no index gives
                # leaves it the narrower range. (PostgreSQL chooses from its statistics.)
                order = V.created_seq + 0
        if at is not None:
            where.append(V.created_seq <= at)
    elif at is not None:
        where.append(ITEM.created_seq <= at)
    query = select(*columns).select_from(source).where(*where).order_by(order)
    if limit is not None:
        query = query.limit(limit)
    found = []
    width, version_width = len(ITEMS.columns), len(VERSIONS.columns)
    for row in conn.execute(query):
        values = tuple(row)
        listed_item = ITEMS.from_row(values[:width])
        newest_version = VERSIONS.from_row(values[width:width + version_width])
        if at is not None:  # the versions it had then
            listed_item = replace(listed_item, versions=newest_version.version + 1)
        found.append(Listed(listed_item, newest_version,
                            values[-1] if kind == rules.ANNOTATION else None))
    return found


def _items_page_at(conn: Connection, dataset_id: int, kind: str, after_seq: int,
                   limit: int | None, at: int) -> list[Listed]:
    """items_page at a point, unfiltered: the page of items (items_in_order, a range ending at
    the point), then their versions up to the point in one primary-key lookup per 500 items,
    then the schemas' names. Three plain queries: one query joining items to "the newest
    version at a point" (a correlated subquery) led PostgreSQL to hash the whole dataset's
    versions for every page."""
    query = ITEMS.select().where(ITEM.dataset_id == dataset_id, ITEM.kind == kind,
                                 ITEM.created_seq > after_seq, ITEM.created_seq <= at,
                                 ).order_by(ITEM.created_seq)
    page = [ITEMS.from_row(row) for row in conn.execute(
        query.limit(limit) if limit is not None else query).all()]
    newest: dict[str, Version] = {}
    for start in range(0, len(page), points.BATCH):
        chunk = [found.uuid for found in page[start:start + points.BATCH]]
        for row in conn.execute(VERSIONS.select().where(
                V.dataset_id == dataset_id, V.uuid.in_(chunk), V.added_seq <= at)).all():
            version = VERSIONS.from_row(row)
            if version.version >= newest.get(version.uuid, version).version:
                newest[version.uuid] = version
    names: dict[str, str | None] = {}
    if kind == rules.ANNOTATION:
        schemas = sorted({v.schema_uuid for v in newest.values() if v.schema_uuid is not None})
        for start in range(0, len(schemas), points.BATCH):
            names.update(conn.execute(select(ITEM.uuid, ITEM.name).where(
                ITEM.dataset_id == dataset_id,
                ITEM.uuid.in_(schemas[start:start + points.BATCH]))).all())
    listed = []
    for found in page:
        version = newest[found.uuid]
        listed.append(Listed(replace(found, versions=version.version + 1), version,
                             names.get(version.schema_uuid or "")
                             if kind == rules.ANNOTATION else None))
    return listed


# --- versions -----------------------------------------------------------------------------------


def version(conn: Connection, dataset_id: int, item_uuid: str, number: int,
            at: int | None = None) -> Version | None:
    """One version (None at a point before it was created)."""
    row = conn.execute(VERSIONS.select().where(
        V.dataset_id == dataset_id, V.uuid == item_uuid, V.version == number)).first()
    found = VERSIONS.from_row(row) if row is not None else None
    if found is not None and at is not None and found.added_seq > at:
        return None
    return found


def versions_page(conn: Connection, dataset_id: int, kind: str, status: str, after_seq: int,
                  limit: int | None, at: int | None = None) -> list[Version]:
    """Versions in one status (a word of Version.status_words) of items created after position
    `after_seq`, by their item's creation then version. A page never splits one item's
    versions: it is extended past `limit` to finish the last item. At a point `at`: the
    versions that existed then, in the status they had then."""
    where = [V.dataset_id == dataset_id, V.kind == kind, status_condition(status, at)]
    if at is not None:
        where.append(V.created_seq <= at)
    query = VERSIONS.select().where(*where, V.created_seq > after_seq).order_by(
        V.created_seq, V.version)
    found = [VERSIONS.from_row(row) for row in conn.execute(
        query.limit(limit) if limit is not None else query)]
    if limit is not None and len(found) == limit:
        last = found[-1]
        found += [VERSIONS.from_row(row) for row in conn.execute(VERSIONS.select().where(
            *where, V.uuid == last.uuid, V.version > last.version).order_by(V.version))]
    return found


def live_objects_with_hash(conn: Connection, dataset_id: int, digest: str,
                           at: int | None = None) -> list[tuple[str, int]]:
    """(uuid, version) of object versions holding these bytes that are neither rejected nor
    deleted (at `at`: then), by the object's creation then version."""
    live = LIVE if at is None else and_(points.exists_at(at), points.live_at(at))
    rows = conn.execute(select(V.uuid, V.version, V.created_seq).where(
        V.dataset_id == dataset_id, V.kind == rules.OBJECT, V.hash == digest, live))
    return [(row.uuid, row.version)
            for row in sorted(rows, key=lambda r: (r.created_seq, r.version))]


def referenced_digests(conn: Connection) -> set[str]:
    """Every hash that a committed event references, in every dataset: the versions table holds
    one row per create or update event (verify checks it against the log)."""
    return set(conn.execute(select(V.hash).distinct()).scalars())


def is_referenced(conn: Connection, digest: str) -> bool:
    return conn.execute(select(V.hash).where(V.hash == digest).limit(1)).first() is not None


# --- what is attached to what -------------------------------------------------------------------


def events_touching(conn: Connection, dataset_id: int, item_uuid: str,
                    number: int, at: int | None = None) -> list[EventInfo]:
    """The events whose target is this version (its create/update, deletions, and the reviews
    of those), in log order; at a point, those up to it, with the review they had then (a
    content event reviewed later was still PENDING)."""
    rows = conn.execute(EVENTS.select().where(
        E.dataset_id == dataset_id, E.target_uuid == item_uuid, E.target_version == number))
    found = sorted((EVENTS.from_row(row) for row in rows), key=lambda info: info.seq)
    if at is None:
        return found
    return [replace(info, review=PENDING, reviewed_seq=None)
            if info.reviewed_seq is not None and info.reviewed_seq > at else info
            for info in found if info.seq <= at]


def annotations_of_object(conn: Connection, dataset_id: int, object_uuid: str,
                          number: int, at: int | None = None) -> list[Item]:
    """The annotation items attached to this object version (by `at`), in creation order."""
    annotation_uuids = conn.execute(select(LINK.annotation_uuid).where(
        LINK.dataset_id == dataset_id, LINK.object_uuid == object_uuid,
        LINK.object_version == number)).scalars().all()
    found = [item(conn, dataset_id, annotation_uuid, at) for annotation_uuid in annotation_uuids]
    return sorted((a for a in found if a is not None), key=lambda a: a.created_seq)


def objects_of_annotation(conn: Connection, dataset_id: int,
                          annotation_uuid: str) -> list[tuple[str, int]]:
    """(uuid, version) of the object versions an annotation is attached to, in the order its
    create event listed them."""
    return [(row.object_uuid, row.object_version) for row in conn.execute(
        select(LINK.object_uuid, LINK.object_version).where(
            LINK.dataset_id == dataset_id, LINK.annotation_uuid == annotation_uuid)
        .order_by(LINK.position))]


# --- the log ------------------------------------------------------------------------------------


def event_seq(conn: Connection, dataset_id: int, event_uuid: str) -> int | None:
    """The position of an event in its dataset's log, or None."""
    return conn.execute(select(E.seq).where(E.dataset_id == dataset_id,
                                            E.uuid == event_uuid)).scalar()


def event_point(conn: Connection, dataset_id: int, event_uuid: str
                ) -> tuple[int, str, str] | None:
    """(seq, uuid, integrity) of an event of this dataset, or None."""
    row = conn.execute(select(E.seq, E.uuid, E.integrity).where(
        E.dataset_id == dataset_id, E.uuid == event_uuid)).first()
    return (row.seq, row.uuid, row.integrity) if row is not None else None


def event_with_body(conn: Connection, dataset_id: int, event_uuid: str
                    ) -> tuple[int, str] | None:
    """(seq, the JSON text stored) of an event of this dataset, or None."""
    row = conn.execute(select(E.seq, E.body).where(
        E.dataset_id == dataset_id, E.uuid == event_uuid)).first()
    return (row.seq, row.body) if row is not None else None


def event_at(conn: Connection, dataset_id: int, seq: int) -> tuple[int, str, str] | None:
    """(seq, uuid, integrity) of the event at a position of the log, or None."""
    row = conn.execute(select(E.seq, E.uuid, E.integrity).where(
        E.dataset_id == dataset_id, E.seq == seq)).first()
    return (row.seq, row.uuid, row.integrity) if row is not None else None


def stored_events(conn: Connection, dataset_id: int, after_seq: int, limit: int,
                  pending: bool = False, at: int | None = None) -> list[str]:
    """Events after position `after_seq` in log order, as the JSON text stored (exactly as
    hashed, plus integrity), at most `limit`; with `pending`, only the content events that
    await review (on the partial index events_awaiting_review, whose condition the query states
    as the index does, literally). At a point `at`: the events up to it, and with `pending`
    those awaiting review then."""
    where = [E.dataset_id == dataset_id, E.seq > after_seq]
    if at is not None:
        where.append(E.seq <= at)
        if pending:
            where += [E.review.isnot(None), or_(E.reviewed_seq.is_(None), E.reviewed_seq > at)]
    elif pending:
        where.append(t.AWAITING_REVIEW)
    return list(conn.execute(select(E.body).where(*where).order_by(E.seq).limit(limit))
                .scalars())
