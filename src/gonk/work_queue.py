"""The work queue: hand out work so that two people never do the same task.

A claim leases one task to its caller for a while (default 300 s, at most an hour):
- "annotate" against a schema: an object's newest accepted version with no live annotation of
  that schema, highest priority first, then the oldest object; an object assigned to someone is
  claimed by them only. Annotators, reviewers and owners claim these.
- "review": a pending change, in log order, that the caller may decide (not their own where the
  dataset requires another reviewer). Reviewers and owners claim these.
While a lease is live nobody else can claim its task. It ends when its holder gives it back,
when it expires, or when the work is done: the annotation created (service.create_annotation)
or the change decided (service.review). `PUT .../leases/<id>` extends one.

Leases, priorities and assignees are the queue's working state beside the log, not events:
what the work produces (annotations, reviews) is in the log.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from .domain import events as ev
from .domain import rules, validation
from .domain.errors import Forbidden, Invalid, NotFound
from .installation import Installation
from .storage import datasets, queue, users
from .storage.projection import SqlState
from .storage.records import Lease, QueuedObject

DEFAULT_TTL = 300.0
MAX_TTL = 3600.0
CANDIDATES = 16  # review candidates read per attempt; a claimer that loses them all reads again
TASKS = (queue.ANNOTATE, queue.REVIEW)

Clock = Callable[[], float]


def clock(installation: Installation) -> float:
    """The server's time for leases: `installation.clock` when a test sets one."""
    now: Clock = getattr(installation, "clock", time.time)
    return now()


MISSING = object()


def ttl_of(value: object = MISSING) -> float:
    """A lease's length from a body's `ttl` (absent: the default; null is not a number)."""
    if value is MISSING:
        return DEFAULT_TTL
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= MAX_TTL:
        raise Invalid(f"'ttl' is a number of seconds from 1 to {int(MAX_TTL)}.")
    return float(value)


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        f".{int(seconds % 1 * 1_000_000):06d}Z"


def _lease_json(lease: Lease) -> dict[str, Any]:
    return {"id": lease.id, "task": lease.task, "expires": _iso(lease.expires_at)}


def _require(state: SqlState, user: str, allowed: tuple[str, ...], doing: str) -> None:
    _require_access(rules.access_of(state, user), user, allowed, doing)


def _require_access(access: str | None, user: str, allowed: tuple[str, ...], doing: str) -> None:
    if access not in allowed:
        needed = "annotator role (or reviewer, or owner)" if "annotator" in allowed else \
            "reviewer role (or owner)"
        raise Forbidden(f"{doing} takes the {needed}; {rules.role_words(access, user)}.")


def claim(installation: Installation, dataset: str, user: str, task: str,
          schema_name: str | None, ttl: float) -> dict[str, Any]:
    """Lease one task to `user`: {"lease": {"id", "task", "expires"}, "item": ...}, or
    {"lease": None, "item": None} when nothing is left for them."""
    if task not in TASKS:
        raise Invalid(f"'task' is one of {', '.join(TASKS)}.")
    # (its own short transaction: an ANALYZE holds its table lock until the end of the
    # transaction, which must not be one that also waits on other claims' leases)
    if queue.statistics_unknown(installation.db.engine.dialect.name):
        with installation.db.write() as conn:
            queue.ensure_statistics(conn)
    with installation.db.write() as conn:
        queue.plan_for_claims(conn)
        ds = datasets.get(conn, dataset)
        state = SqlState(conn, ds.id)
        # whether the caller may read the dataset is checked here, in the claim's transaction,
        # not by the route (one transaction fewer on the queue's busiest path)
        access = rules.access_of(state, user)
        if access is None:  # a private dataset, to a non-member: as if there were none
            raise NotFound(f"No dataset named {dataset}.")
        now = clock(installation)
        queue.delete_expired(conn, now)
        if task == queue.ANNOTATE:
            _require_access(access, user, ("owner", ev.ANNOTATOR, ev.REVIEWER),
                            "Claiming work to annotate")
            if schema_name is None:
                raise Invalid("An annotate claim names its 'schema'.")
            schema = state.schema_named(validation.schema_name(schema_name))
            if schema is None:
                raise NotFound(f"No schema named {schema_name} in dataset {dataset}.")
            return _claim_annotate(conn, ds.id, state, user, schema, now + ttl)
        _require_access(access, user, ("owner", ev.REVIEWER), "Claiming changes to review")
        return _claim_review(conn, ds.id, state, user, now + ttl)


def _claim_annotate(conn: Any, dataset_id: int, state: SqlState, user: str, schema: rules.Item,
                    expires: float) -> dict[str, Any]:
    # candidates are looked for from the schema's floor on (storage/queue.py), which the claim
    # then raises past what it saw taken
    floor, generation = queue.annotate_floor(conn, dataset_id, schema.uuid)
    while True:
        found = queue.annotate_candidates(conn, dataset_id, schema.uuid, user, floor)
        if not found:
            queue.raise_floor(conn, dataset_id, schema.uuid, floor, generation)
            return {"lease": None, "item": None}
        for object_uuid, version, name in found:
            lease = Lease(str(uuid.uuid4()), queue.ANNOTATE, object_uuid, version, schema.uuid,
                          user, expires)
            if queue.insert_lease(conn, dataset_id, lease):
                queue.raise_floor(conn, dataset_id, schema.uuid, floor, generation)
                return {"lease": _lease_json(lease), "item": {
                    "object": {"uuid": object_uuid, "version": version, "name": name},
                    "schema": {"name": schema.name, "uuid": schema.uuid,
                               "versions": schema.versions}}}


def _claim_review(conn: Any, dataset_id: int, state: SqlState, user: str,
                  expires: float) -> dict[str, Any]:
    four_eyes = state.settings().require_other_reviewer
    after = 0
    while True:
        found = queue.review_candidates(conn, dataset_id, after, CANDIDATES)
        if not found:
            return {"lease": None, "item": None}
        for event_uuid, seq, author in found:
            after = seq
            if four_eyes and author == user:
                continue  # theirs: another reviewer's task
            lease = Lease(str(uuid.uuid4()), queue.REVIEW, event_uuid, 0, "", user, expires)
            if queue.insert_lease(conn, dataset_id, lease):
                return {"lease": _lease_json(lease),
                        "item": {"event": queue.event_json(conn, dataset_id, event_uuid)}}


def _held(conn: Any, installation: Installation, dataset_id: int, lease_id: str,
          user: str) -> Lease:
    queue.delete_expired(conn, clock(installation))
    lease = queue.get_lease(conn, dataset_id, validation.parse_uuid(lease_id, "lease id"))
    if lease is None:
        raise NotFound(f"No live lease {lease_id} (it ended, expired, or never was).")
    if lease.holder != user:
        raise Forbidden(f"Lease {lease_id} is held by {lease.holder}, not {user}.")
    return lease


def extend(installation: Installation, dataset: str, user: str, lease_id: str,
           ttl: float) -> dict[str, Any]:
    """The lease now ends `ttl` seconds from now (its holder only)."""
    with installation.db.write() as conn:
        ds = datasets.get(conn, dataset)
        lease = _held(conn, installation, ds.id, lease_id, user)
        expires = clock(installation) + ttl
        queue.extend_lease(conn, ds.id, lease.id, expires)
    return {"lease": {"id": lease.id, "task": lease.task, "expires": _iso(expires)}}


def give_back(installation: Installation, dataset: str, user: str,
              lease_id: str) -> dict[str, Any]:
    with installation.db.write() as conn:
        ds = datasets.get(conn, dataset)
        lease = _held(conn, installation, ds.id, lease_id, user)
        queue.give_back(conn, ds.id, lease)
    return {"lease": lease.id}


def _object(state: SqlState, dataset: str, object_uuid: str) -> None:
    item = state.item(object_uuid)
    if item is None or item.kind != rules.OBJECT:
        raise NotFound(f"No object {object_uuid} in dataset {dataset}.")


def set_priority(installation: Installation, dataset: str, user: str, object_uuid: str,
                 priority: float) -> dict[str, Any]:
    with installation.db.write() as conn:
        ds = datasets.get(conn, dataset)
        state = SqlState(conn, ds.id)
        _require(state, user, ("owner", ev.REVIEWER), "Ordering and assigning the queue")
        _object(state, dataset, object_uuid)
        current = queue.queued_object(conn, ds.id, object_uuid)
        queue.save_queued_object(conn, ds.id, QueuedObject(object_uuid, priority,
                                                           current.assignee))
    return {"uuid": object_uuid, "priority": priority, "assignee": current.assignee}


def set_assignee(installation: Installation, dataset: str, user: str, object_uuid: str,
                 assignee: str | None) -> dict[str, Any]:
    with installation.db.write() as conn:
        ds = datasets.get(conn, dataset)
        state = SqlState(conn, ds.id)
        _require(state, user, ("owner", ev.REVIEWER), "Ordering and assigning the queue")
        _object(state, dataset, object_uuid)
        if assignee is not None and not users.exists(conn, assignee):
            raise NotFound(f"No user named {assignee}.")
        current = queue.queued_object(conn, ds.id, object_uuid)
        queue.save_queued_object(conn, ds.id, QueuedObject(object_uuid, current.priority,
                                                           assignee))
    return {"uuid": object_uuid, "priority": current.priority, "assignee": assignee}


def report(installation: Installation, dataset: str, schema_name: str | None
           ) -> dict[str, Any]:
    """What is left, leased and awaiting review; per user, changes proposed, accepted and
    rejected (read from the log's create, update and delete events)."""
    with installation.db.write() as conn:
        ds = datasets.get(conn, dataset)
        queue.delete_expired(conn, clock(installation))
        leases = queue.lease_counts(conn, ds.id)
        out: dict[str, Any] = {
            "review": {"awaiting": queue.awaiting_review(conn, ds.id),
                       "leased": leases.get(queue.REVIEW, 0)},
            "annotate": None,
        }
        if schema_name is not None:
            schema = SqlState(conn, ds.id).schema_named(validation.schema_name(schema_name))
            if schema is None:
                raise NotFound(f"No schema named {schema_name} in dataset {dataset}.")
            left = queue.annotate_left(conn, ds.id, schema.uuid)
            leased = queue.leased_for_schema(conn, ds.id, schema.uuid)
            out["annotate"] = {"schema": schema.name, "left": left, "leased": leased}
        per_user: dict[str, Counter[str]] = {}
        for author, review, count in queue.changes_by_author(conn, ds.id):
            counts = per_user.setdefault(author, Counter())
            counts["proposed"] += count
            if review == ev.ACCEPTED:
                counts["accepted"] += count
            elif review == ev.REJECTED:
                counts["rejected"] += count
        out["users"] = {name: {"proposed": c["proposed"], "accepted": c["accepted"],
                               "rejected": c["rejected"]}
                        for name, c in sorted(per_user.items())}
    return out
