"""The work queue's tables (queue_leases, object_queue): the candidates a claim may lease, the
leases themselves, and objects' priorities and assignees. The rules of the queue (who may claim
what, for how long) are in gonk/work_queue.py.

Exactly once: a lease is inserted with ON CONFLICT DO NOTHING against a unique index on its
task, so two claimers can never both hold one; and on PostgreSQL the candidates are read with
FOR UPDATE SKIP LOCKED, so concurrent claimers pass over the rows another claim is taking
instead of waiting for it (no lock over the whole queue). SQLite runs one writer at a time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from ..domain import events as ev
from ..domain import rules
from . import tables as t
from .records import LEASES, QUEUED_OBJECTS, Lease, QueuedObject

V, L, Q, OQ, E = (t.versions.c, t.annotation_links.c, t.queue_leases.c, t.object_queue.c,
                  t.events.c)
ANNOTATE, REVIEW = "annotate", "review"


def _accepted(v: Any) -> Any:
    return and_(v.create_pending.is_(False), v.create_rejected.is_(False),
                v.delete_accepted.is_(False))


def delete_expired(conn: Connection, dataset_id: int, now: float) -> None:
    conn.execute(delete(t.queue_leases).where(Q.dataset_id == dataset_id, Q.expires_at <= now))


def insert_lease(conn: Connection, dataset_id: int, lease: Lease) -> bool:
    """Take the lease unless its task is held already (False, and nothing changes)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(t.queue_leases).values(
        **LEASES.insert_params(dataset_id, lease)).on_conflict_do_nothing().returning(Q.id)
    # RETURNING says whether the row went in (a rowcount is not to be trusted here: with
    # psycopg an insert that did nothing reported one row, and a task was leased twice)
    return conn.execute(statement).first() is not None


_PLANNED_TABLES = ("versions", "items", "annotation_links", "queue_leases", "object_queue",
                   "events")
_statistics_seen = False


def statistics_unknown(dialect: str) -> bool:
    """Whether `ensure_statistics` may still have work to do in this process."""
    return dialect == "postgresql" and not _statistics_seen


def ensure_statistics(conn: Connection) -> None:
    """PostgreSQL plans the claims' lookups well only with table statistics: on a database
    that autovacuum has not analyzed yet (a new one, filled in bulk a moment ago) it picks
    indexes at random among those that start with dataset_id, and a claim scans the dataset
    per candidate. So the first claim of a process analyzes the tables that have never been
    (once they all have statistics, autovacuum keeps them fresh)."""
    global _statistics_seen
    if _statistics_seen or conn.dialect.name != "postgresql":
        return
    never = [name for name, tuples in conn.exec_driver_sql(
        "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r' AND relname IN "
        "('" + "', '".join(_PLANNED_TABLES) + "')") if tuples < 0]
    if never:
        conn.exec_driver_sql("ANALYZE " + ", ".join(never))
    else:
        _statistics_seen = True


def _locking(query: Select[Any], conn: Connection, table: Any) -> Select[Any]:
    if conn.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=table)
    return query


def _none(query: Select[Any]) -> Any:
    """`query` finds no row. Written as `(SELECT 1 ... LIMIT 1) IS NULL`, not NOT EXISTS:
    PostgreSQL turns NOT EXISTS into an anti-join, and on fresh tables (no statistics) it
    planned them as scans of the whole dataset per candidate (a claim at 1,000 leases took
    seconds); a scalar subquery always runs as an index lookup per candidate, on both
    databases."""
    return query.limit(1).scalar_subquery().is_(None)


def _annotate_base(dataset_id: int, schema_uuid: str, user: str | None) -> Select[Any]:
    """The object versions to annotate against the schema: each its object's newest version,
    accepted, with no live annotation (pending or accepted) of that schema and no live lease;
    with `user`, only those assigned to nobody or to them."""
    # its object's newest version (one whose update is pending waits until it is decided):
    # no version after it, looked up by the versions' whole primary key
    later = t.versions.alias("later")
    newest = _none(select(1).where(later.c.dataset_id == V.dataset_id,
                                   later.c.uuid == V.uuid, later.c.version == V.version + 1))
    ann = t.versions.alias("ann")
    not_annotated = _none(select(1).select_from(t.annotation_links.join(
        ann, and_(ann.c.dataset_id == L.dataset_id, ann.c.uuid == L.annotation_uuid))).where(
        L.dataset_id == V.dataset_id, L.object_uuid == V.uuid, L.object_version == V.version,
        ann.c.schema_uuid == schema_uuid, ann.c.create_rejected.is_(False),
        ann.c.delete_accepted.is_(False)))
    not_leased = _none(select(1).where(Q.dataset_id == V.dataset_id, Q.task == ANNOTATE,
                                       Q.target_uuid == V.uuid, Q.schema_uuid == schema_uuid))
    query = (select(V.uuid, V.version, V.name)
             .select_from(t.versions.outerjoin(t.object_queue, and_(
                 OQ.dataset_id == V.dataset_id, OQ.object_uuid == V.uuid)))
             .where(V.dataset_id == dataset_id, V.kind == rules.OBJECT, _accepted(V),
                    newest, not_annotated, not_leased))
    if user is not None:
        query = query.where(or_(OQ.assignee.is_(None), OQ.assignee == user))
    return query


def annotate_candidates(conn: Connection, dataset_id: int, schema_uuid: str, user: str,
                        limit: int) -> list[tuple[str, int, str | None]]:
    """Up to `limit` object versions (uuid, version, name) `user` may claim to annotate
    against the schema (_annotate_base), in the queue's order: priority (higher first, objects
    without one at 0), then the oldest object."""
    base = _annotate_base(dataset_id, schema_uuid, user)
    found: list[tuple[str, int, str | None]] = []
    # three passes, each on an index: raised priorities, then the rest in creation order
    # (versions_in_order), then lowered ones; most queues have few raised or lowered objects
    for bucket, order in (
            (OQ.priority > 0, (OQ.priority.desc(), V.created_seq, V.version)),
            (or_(OQ.priority.is_(None), OQ.priority == 0), (V.created_seq, V.version)),
            (OQ.priority < 0, (OQ.priority.desc(), V.created_seq, V.version))):
        query = _locking(base.where(bucket).order_by(*order).limit(limit - len(found)), conn,
                         t.versions)
        found += [(row.uuid, row.version, row.name) for row in conn.execute(query)]
        if len(found) >= limit:
            break
    return found


def annotate_left(conn: Connection, dataset_id: int, schema_uuid: str) -> int:
    """How many object versions still wait to be annotated against the schema (leased ones
    not counted)."""
    base = _annotate_base(dataset_id, schema_uuid, None).subquery()
    return int(conn.execute(select(func.count()).select_from(base)).scalar_one())


def leased_for_schema(conn: Connection, dataset_id: int, schema_uuid: str) -> int:
    return int(conn.execute(select(func.count()).select_from(t.queue_leases).where(
        Q.dataset_id == dataset_id, Q.task == ANNOTATE, Q.schema_uuid == schema_uuid))
        .scalar_one())


def event_json(conn: Connection, dataset_id: int, event_uuid: str) -> dict[str, Any]:
    """An event as the events list sends it: its stored JSON with its integrity."""
    row = conn.execute(select(E.body, E.integrity).where(
        E.dataset_id == dataset_id, E.uuid == event_uuid)).one()
    return {**json.loads(row.body), "integrity": row.integrity}


def review_candidates(conn: Connection, dataset_id: int, after_seq: int, limit: int
                      ) -> list[tuple[str, int, str]]:
    """Up to `limit` pending events (uuid, seq, author) after `after_seq`, in log order, that
    nobody holds a lease on."""
    not_leased = _none(select(1).where(Q.dataset_id == E.dataset_id, Q.task == REVIEW,
                                       Q.target_uuid == E.uuid))
    query = _locking(select(E.uuid, E.seq, E.body).where(
        E.dataset_id == dataset_id, t.AWAITING_REVIEW, E.seq > after_seq, not_leased)
        .order_by(E.seq).limit(limit), conn, t.events)
    return [(row.uuid, row.seq, json.loads(row.body).get("author", ""))
            for row in conn.execute(query)]


def get_lease(conn: Connection, dataset_id: int, lease_id: str) -> Lease | None:
    row = conn.execute(LEASES.select().where(Q.dataset_id == dataset_id,
                                             Q.id == lease_id)).first()
    return LEASES.from_row(row) if row is not None else None


def extend_lease(conn: Connection, dataset_id: int, lease_id: str, expires_at: float) -> None:
    conn.execute(update(t.queue_leases).where(Q.dataset_id == dataset_id, Q.id == lease_id)
                 .values(expires_at=expires_at))


def delete_lease(conn: Connection, dataset_id: int, lease_id: str) -> None:
    conn.execute(delete(t.queue_leases).where(Q.dataset_id == dataset_id, Q.id == lease_id))


def end_annotate_leases(conn: Connection, dataset_id: int, schema_uuid: str,
                        object_uuids: Sequence[str]) -> None:
    """The annotation is made: the leases on annotating these objects against the schema end."""
    if object_uuids:
        conn.execute(delete(t.queue_leases).where(
            Q.dataset_id == dataset_id, Q.task == ANNOTATE, Q.schema_uuid == schema_uuid,
            Q.target_uuid.in_(list(object_uuids))))


def end_review_lease(conn: Connection, dataset_id: int, event_uuid: str) -> None:
    """The event is decided: the lease on reviewing it ends."""
    conn.execute(delete(t.queue_leases).where(Q.dataset_id == dataset_id, Q.task == REVIEW,
                                              Q.target_uuid == event_uuid))


def queued_object(conn: Connection, dataset_id: int, object_uuid: str) -> QueuedObject:
    row = conn.execute(QUEUED_OBJECTS.select().where(
        OQ.dataset_id == dataset_id, OQ.object_uuid == object_uuid)).first()
    return QUEUED_OBJECTS.from_row(row) if row is not None else QueuedObject(object_uuid, 0.0,
                                                                             None)


def save_queued_object(conn: Connection, dataset_id: int, queued: QueuedObject) -> None:
    conn.execute(delete(t.object_queue).where(OQ.dataset_id == dataset_id,
                                              OQ.object_uuid == queued.object_uuid))
    if queued.priority != 0 or queued.assignee is not None:
        conn.execute(t.object_queue.insert().values(
            **QUEUED_OBJECTS.insert_params(dataset_id, queued)))


def lease_counts(conn: Connection, dataset_id: int) -> dict[str, int]:
    """Live leases by task (expired ones are deleted first by the caller)."""
    rows = conn.execute(select(Q.task, func.count()).where(Q.dataset_id == dataset_id)
                        .group_by(Q.task))
    return {task: int(n) for task, n in rows}


def awaiting_review(conn: Connection, dataset_id: int) -> int:
    return int(conn.execute(select(func.count()).select_from(t.events).where(
        E.dataset_id == dataset_id, t.AWAITING_REVIEW)).scalar_one())


def authors_of_changes(conn: Connection, dataset_id: int) -> list[tuple[str, str | None]]:
    """(author, review) of every create, update and delete event of the dataset."""
    rows = conn.execute(select(E.body, E.review).where(
        E.dataset_id == dataset_id, E.type.in_(sorted(ev.CONTENT_TYPES))))
    return [(json.loads(row.body).get("author", ""), row.review) for row in rows]
