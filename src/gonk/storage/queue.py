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

from sqlalchemy import (
    JSON,
    Connection,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from ..domain import events as ev
from ..domain import rules
from . import tables as t
from .prepared import Prepared
from .records import LEASES, QUEUED_OBJECTS, Lease, QueuedObject

V, L, Q, OQ, E = (t.versions.c, t.annotation_links.c, t.queue_leases.c, t.object_queue.c,
                  t.events.c)
ANNOTATE, REVIEW = "annotate", "review"


def _accepted(v: Any) -> Any:
    return and_(v.create_pending.is_(False), v.create_rejected.is_(False),
                v.delete_accepted.is_(False))


# Over every dataset, on the leases_by_expiry index alone (a condition on dataset_id as well
# drew PostgreSQL to one_lease_per_task, reading every lease of the dataset).
_EXPIRED = Prepared(select(Q.dataset_id, Q.task, Q.target_uuid, Q.schema_uuid).where(
    Q.expires_at <= bindparam("p_now")))
_DELETE_EXPIRED = Prepared(delete(t.queue_leases).where(Q.expires_at <= bindparam("p_now")))


def delete_expired(conn: Connection, now: float) -> None:
    """End the leases whose time is up, in every dataset (their tasks can be claimed again)."""
    params = {"p_now": now}
    expired = _EXPIRED.rows(conn, params)  # as a rule none
    if expired:
        _DELETE_EXPIRED.run(conn, params)
        for dataset_id, task, target_uuid, schema_uuid in expired:
            if task == ANNOTATE:
                _lower_for_lease(conn, dataset_id, target_uuid, schema_uuid)


def _insert_unless_there(conn: Connection, table: Any, values: dict[str, Any]) -> bool:
    """Insert the row unless one with the same unique key exists (False, nothing changes)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    # RETURNING says whether the row went in (a rowcount is not to be trusted here: with
    # psycopg an insert that did nothing reported one row, and a task was leased twice)
    return conn.execute(statement).first() is not None


def insert_lease(conn: Connection, dataset_id: int, lease: Lease) -> bool:
    """Take the lease unless its task is held already (False, and nothing changes)."""
    return _insert_unless_there(conn, t.queue_leases, LEASES.insert_params(dataset_id, lease))


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


def plan_for_claims(conn: Connection) -> None:
    """On PostgreSQL, no sequential scans for the rest of this transaction: every lookup of a
    claim has an index, but statistics go stale as a queue fills (leases are inserted by the
    thousand between two autovacuum runs), and a table last analyzed when it held a few rows
    is then scanned whole, once per candidate."""
    if conn.dialect.name == "postgresql":
        # and no JIT compilation: a walk's estimated cost (rows it may pass) is above JIT's
        # threshold, and compiling took 25 ms for a query that runs in a fraction of one
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off; SET LOCAL jit = off")


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


_DATASET: Any = bindparam("p_dataset_id")
_SCHEMA: Any = bindparam("p_schema")
_later = t.versions.alias("later")
_ann = t.versions.alias("ann")
TO_ANNOTATE = (
    V.kind == rules.OBJECT, _accepted(V),
    # its object's current version: no later version but rejected ones (one whose update is
    # pending waits until it is decided), looked up on the versions' primary key
    _none(select(1).where(_later.c.dataset_id == V.dataset_id, _later.c.uuid == V.uuid,
                          _later.c.version > V.version, _later.c.create_rejected.is_(False))),
    # no live annotation (pending or accepted) of the schema: the object version's links (few),
    # each annotation looked up by its key. (As a join, SQLite ran it from the schema's side,
    # reading every annotation of the schema for each candidate; and the schema is compared
    # through coalesce() so that no index on it is a candidate for the annotation's lookup.)
    _none(select(1).where(
        L.dataset_id == V.dataset_id, L.object_uuid == V.uuid, L.object_version == V.version,
        select(1).where(_ann.c.dataset_id == L.dataset_id, _ann.c.uuid == L.annotation_uuid,
                        func.coalesce(_ann.c.schema_uuid, "") == _SCHEMA,
                        _ann.c.create_rejected.is_(False),
                        _ann.c.delete_accepted.is_(False))
        .limit(1).scalar_subquery().is_not(None))),
    # no live lease
    _none(select(1).where(Q.dataset_id == V.dataset_id, Q.task == ANNOTATE,
                          Q.target_uuid == V.uuid, Q.schema_uuid == _SCHEMA)),
)
"""An object version to annotate against the schema (`p_schema`): its object's current
version, accepted, with no live annotation of the schema and no live lease."""

_NOT_QUEUED = _none(select(1).where(OQ.dataset_id == V.dataset_id, OQ.object_uuid == V.uuid))
_FROM_FLOOR = (V.dataset_id == _DATASET, V.created_seq >= bindparam("p_floor"), *TO_ANNOTATE,
               _NOT_QUEUED)
# The two kinds of candidates: objects without a priority or an assignee (most of them), from
# the schema's floor on in creation order, on the versions_in_order index; and the objects in
# object_queue (as a rule few), by priority. FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite
# leaves it out, and runs one writer at a time): a row another claim is taking is passed over,
# not waited for.
_PLAIN = Prepared(select(V.uuid, V.version, V.name, V.created_seq).where(*_FROM_FLOOR)
                  .order_by(V.created_seq, V.version).limit(4)
                  .with_for_update(skip_locked=True, of=t.versions))


# The objects in object_queue, by priority (their priority looked up per row). Only read when
# the dataset has any (_ANY_QUEUED): SQLite, with no statistics to go by, runs this one by
# walking the dataset's objects and looking each up in object_queue, whatever way it is written
# (a join, IN, a subquery), which is some milliseconds per claim at 100,000 objects.
_ANY_QUEUED = Prepared(select(OQ.object_uuid).where(OQ.dataset_id == _DATASET).limit(1))
_PRIORITY = (select(OQ.priority).where(OQ.dataset_id == V.dataset_id, OQ.object_uuid == V.uuid)
             .scalar_subquery())
_QUEUED = Prepared(
    select(V.uuid, V.version, V.name, V.created_seq, _PRIORITY.label("priority"))
    .where(V.dataset_id == _DATASET,
           V.uuid.in_(select(OQ.object_uuid).where(
               OQ.dataset_id == _DATASET,
               or_(OQ.assignee.is_(None), OQ.assignee == bindparam("p_user")))),
           *TO_ANNOTATE)
    .order_by(_PRIORITY.desc(), V.created_seq, V.version).limit(4)
    .with_for_update(skip_locked=True, of=t.versions))


# --- floors ------------------------------------------------------------------------------------
# A schema's floor (tables.annotate_floors) only rises by a claim that saw, with nothing lowered
# since it read the floor (`generation`), that no object from the floor to the new one can be
# claimed. Whatever can make an object below it claimable again lowers it, in the same
# transaction:
# - a lease ends without the work done (given back: give_back; expired: delete_expired);
# - an object leaves object_queue (its priority back to 0 and no assignee: save_queued_object);
# - a review changes an object version's or an annotation's flags (lower_floors_for, called by
#   the projection): an object accepted, an update of it rejected (its previous version is
#   current again), an annotation rejected or deleted (its objects are unannotated).
# Nothing else makes an object claimable: proposing adds pending versions and annotations, which
# only make objects unclaimable. A floor too low costs time; one too high would hide work, which
# is why each lowering bumps `generation` and a raise checks it.
FL = t.annotate_floors.c
_FLOOR_KEY = (FL.dataset_id == _DATASET, FL.schema_uuid == _SCHEMA)
_READ_FLOOR = Prepared(select(FL.floor_seq, FL.generation).where(*_FLOOR_KEY))
# A claim's raise, in one statement: to the next object a claim could take, locks aside (a row
# another claim is taking counts: its lease is not committed yet), or past every object when
# there is none; only if nobody changed the floor since the claim read it. On PostgreSQL the
# floor's row is taken with SKIP LOCKED: a claim that cannot have it at once (another claim is
# raising it, or a lowering holds it) leaves the raise to a later claim instead of waiting.
_NEXT_FREE = (select(V.created_seq).where(*_FROM_FLOOR).order_by(V.created_seq, V.version)
              .limit(1).scalar_subquery())
_PAST_LAST = (select(func.max(V.created_seq) + 1).where(V.dataset_id == _DATASET,
                                                        V.kind == rules.OBJECT)
              .scalar_subquery())
_RAISE = update(t.annotate_floors).where(
    *_FLOOR_KEY, FL.generation == bindparam("p_generation"), FL.floor_seq == bindparam("p_floor"),
).values(floor_seq=func.coalesce(_NEXT_FREE, _PAST_LAST, FL.floor_seq))
_RAISE_FLOOR = {
    "postgresql": Prepared(_RAISE.where(literal_column("ctid") == func.any(func.array(
        select(literal_column("ctid")).select_from(t.annotate_floors).where(*_FLOOR_KEY)
        .with_for_update(skip_locked=True).scalar_subquery())))),
    "sqlite": Prepared(_RAISE),  # one writer at a time: nobody else holds the row
}


def _lowering(seq: Any, one_schema: bool = False) -> Prepared:
    """Every floor of the dataset (or the `p_schema` one) lowered to `seq` where it is higher
    (a NULL seq lowers nothing), each lowering counted."""
    where = [FL.dataset_id == _DATASET] + ([FL.schema_uuid == _SCHEMA] if one_schema else [])
    return Prepared(update(t.annotate_floors).where(*where).values(
        floor_seq=case((FL.floor_seq > seq, seq), else_=FL.floor_seq),
        generation=FL.generation + 1))


_ITEM = t.items.c
_OBJECT_SEQ = select(_ITEM.created_seq).where(
    _ITEM.dataset_id == _DATASET, _ITEM.uuid == bindparam("p_uuid")).scalar_subquery()
_LINKED_SEQ = (select(func.min(_ITEM.created_seq))
               .select_from(t.annotation_links.join(t.items, and_(
                   _ITEM.dataset_id == L.dataset_id, _ITEM.uuid == L.object_uuid)))
               .where(L.dataset_id == _DATASET, L.annotation_uuid == bindparam("p_uuid"))
               .scalar_subquery())
_LOWER_FOR_OBJECT = _lowering(_OBJECT_SEQ)
_LOWER_FOR_ANNOTATION = _lowering(_LINKED_SEQ)
_LOWER_ONE_FOR_OBJECT = _lowering(_OBJECT_SEQ, one_schema=True)


def lower_floors_for(conn: Connection, dataset_id: int, version: rules.Version) -> None:
    """A review changed this version's flags: lower the floors if that may have made an object
    claimable (an object accepted, an object's update rejected, an annotation rejected or
    deleted)."""
    if version.kind == rules.OBJECT:
        if version.delete_accepted or (version.create_rejected and version.version == 0):
            return  # an object deleted, or never accepted: nothing to claim
        _LOWER_FOR_OBJECT.run(conn, {"p_dataset_id": dataset_id, "p_uuid": version.uuid})
    elif version.kind == rules.ANNOTATION and (version.create_rejected or
                                                version.delete_accepted):
        _LOWER_FOR_ANNOTATION.run(conn, {"p_dataset_id": dataset_id, "p_uuid": version.uuid})


def _lower_for_lease(conn: Connection, dataset_id: int, object_uuid: str,
                     schema_uuid: str) -> None:
    _LOWER_ONE_FOR_OBJECT.run(conn, {"p_dataset_id": dataset_id, "p_uuid": object_uuid,
                                     "p_schema": schema_uuid})


def annotate_floor(conn: Connection, dataset_id: int, schema_uuid: str
                   ) -> tuple[int, int | None]:
    """The schema's floor and its generation; a generation of None when the floor's row was
    made by this transaction (a lowering in another transaction cannot see the row until this
    one commits, so this one must not raise it)."""
    params = {"p_dataset_id": dataset_id, "p_schema": schema_uuid}
    row = _READ_FLOOR.first(conn, params)
    if row is None:
        if _insert_unless_there(conn, t.annotate_floors, {
                "dataset_id": dataset_id, "schema_uuid": schema_uuid, "floor_seq": 0,
                "generation": 0}):
            return 0, None
        row = _READ_FLOOR.first(conn, params)  # made by a claim that has committed since
    return int(row.floor_seq), int(row.generation)


def raise_floor(conn: Connection, dataset_id: int, schema_uuid: str, floor: int,
                generation: int | None) -> None:
    """After a claim: raise the schema's floor past what the claim saw taken, unless it was
    changed since the claim read it."""
    if generation is not None:
        _RAISE_FLOOR[conn.dialect.name].run(conn, {
            "p_dataset_id": dataset_id, "p_schema": schema_uuid, "p_floor": floor,
            "p_generation": generation})


def annotate_candidates(conn: Connection, dataset_id: int, schema_uuid: str, user: str,
                        floor: int) -> list[tuple[str, int, str | None]]:
    """A few object versions (uuid, version, name) `user` may claim to annotate against the
    schema, in the queue's order: priority (higher first; objects without one at 0), then the
    oldest object; objects assigned to someone else left out."""
    params = {"p_dataset_id": dataset_id, "p_schema": schema_uuid, "p_floor": floor,
              "p_user": user}
    rows = [(0.0, *row) for row in _PLAIN.rows(conn, params)]
    if _ANY_QUEUED.first(conn, params) is not None:
        rows += [(row[4], *row[:4]) for row in _QUEUED.rows(conn, params)]
    rows.sort(key=lambda row: (-row[0], row[4], row[2]))
    return [(row[1], int(row[2]), row[3]) for row in rows]


def annotate_left(conn: Connection, dataset_id: int, schema_uuid: str) -> int:
    """How many object versions still wait to be annotated against the schema (leased ones
    not counted)."""
    row = _READ_FLOOR.first(conn, {"p_dataset_id": dataset_id, "p_schema": schema_uuid})
    params = {"p_dataset_id": dataset_id, "p_schema": schema_uuid,
              "p_floor": int(row.floor_seq) if row is not None else 0}
    left = int(conn.execute(_COUNT_PLAIN, params).scalar_one())
    if _ANY_QUEUED.first(conn, params) is not None:  # as in a claim (see _QUEUED)
        left += int(conn.execute(_COUNT_QUEUED, params).scalar_one())
    return left


# annotate_left's counts: the candidates of _PLAIN and of _QUEUED (whoever they are assigned to)
_COUNT_PLAIN = select(func.count()).select_from(select(V.uuid).where(*_FROM_FLOOR).subquery())
_COUNT_QUEUED = select(func.count()).select_from(select(V.uuid).where(
    V.dataset_id == _DATASET,
    V.uuid.in_(select(OQ.object_uuid).where(OQ.dataset_id == _DATASET)),
    *TO_ANNOTATE).subquery())


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


def give_back(conn: Connection, dataset_id: int, lease: Lease) -> None:
    """End the lease with its work not done: its task can be claimed again."""
    conn.execute(delete(t.queue_leases).where(Q.dataset_id == dataset_id, Q.id == lease.id))
    if lease.task == ANNOTATE:
        _lower_for_lease(conn, dataset_id, lease.target_uuid, lease.schema_uuid)


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
    """An object's priority and assignee; with neither, it leaves object_queue (and joins the
    objects a claim finds from the floor on: the floors are lowered to it)."""
    left = conn.execute(delete(t.object_queue).where(
        OQ.dataset_id == dataset_id, OQ.object_uuid == queued.object_uuid)
        .returning(OQ.object_uuid)).first() is not None
    if queued.priority != 0 or queued.assignee is not None:
        conn.execute(t.object_queue.insert().values(
            **QUEUED_OBJECTS.insert_params(dataset_id, queued)))
    elif left:
        _LOWER_FOR_OBJECT.run(conn, {"p_dataset_id": dataset_id, "p_uuid": queued.object_uuid})


def queued_objects(conn: Connection, dataset_id: int) -> list[QueuedObject]:
    """Every object of the dataset with a priority or an assignee (`gonk-api copy`)."""
    rows = conn.execute(QUEUED_OBJECTS.select().where(OQ.dataset_id == dataset_id)
                        .order_by(OQ.object_uuid))
    return [QUEUED_OBJECTS.from_row(row) for row in rows]


def lease_counts(conn: Connection, dataset_id: int) -> dict[str, int]:
    """Live leases by task (expired ones are deleted first by the caller)."""
    rows = conn.execute(select(Q.task, func.count()).where(Q.dataset_id == dataset_id)
                        .group_by(Q.task))
    return {task: int(n) for task, n in rows}


def awaiting_review(conn: Connection, dataset_id: int) -> int:
    return int(conn.execute(select(func.count()).select_from(t.events).where(
        E.dataset_id == dataset_id, t.AWAITING_REVIEW)).scalar_one())


def changes_by_author(conn: Connection, dataset_id: int
                      ) -> list[tuple[str, str | None, int]]:
    """(author, review, count) over the dataset's create, update and delete events: the author
    read from each event's JSON by the database, grouped there (one row per author and
    outcome, whatever the size of the log)."""
    body: Any = JSON
    if conn.dialect.name == "postgresql":
        author = cast(E.body, body)["author"].as_string()  # (the column is text, not json)
    else:
        author = type_coerce(E.body, body)["author"].as_string()
    rows = conn.execute(select(author.label("author"), E.review, func.count())
                        .where(E.dataset_id == dataset_id, E.type.in_(sorted(ev.CONTENT_TYPES)))
                        .group_by(author, E.review))
    return [(row[0] or "", row[1], int(row[2])) for row in rows]
