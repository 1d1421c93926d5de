"""A dataset's log: appending events (checked by the rules, linked into the hash chain, projected)
inside the caller's transaction, and reading the log back in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from ..domain import integrity, rules
from ..domain.content import Labels
from ..domain.merkle import event_leaf
from . import datasets, merkle, stats
from . import tables as t
from .prepared import Prepared
from .projection import SqlState
from .records import EVENTS, Dataset

_INSERT_EVENT = EVENTS.inserter("body", "integrity")
_ADVANCE_HEAD = Prepared(update(t.datasets).where(t.datasets.c.id == bindparam("p_id")).values(
    head_integrity=bindparam("p_head"), event_count=bindparam("p_count")))


class DatasetLog:
    """A dataset open for appending, inside the caller's write transaction: appends events,
    links them into the chain and projects them."""

    def __init__(self, conn: Connection, dataset: Dataset) -> None:
        self.conn = conn
        self.dataset_id = dataset.id
        self.name = dataset.name
        self.head = dataset.head_integrity
        self.count = dataset.event_count
        self.state = SqlState(conn, self.dataset_id)

    @classmethod
    def lock(cls, conn: Connection, name: str) -> DatasetLog:
        """The dataset named `name`, locked for writing until the transaction ends (NotFound
        if there is none)."""
        return cls(conn, datasets.get(conn, name, lock=True))

    @classmethod
    def create(cls, conn: Connection, name: str, created_at: str) -> DatasetLog:
        """A new dataset (Conflict if the name is taken), open for its first events."""
        return cls(conn, datasets.create(conn, name, created_at))

    def append(self, event_json: dict[str, Any],
               labels: Labels | None = None) -> dict[str, Any]:
        """Check the event against the rules, link it, store it and its projection; returns
        the event as stored (with `integrity`). `labels`: for an annotation create or update
        whose schema declares a label kind, the labels its document holds (the service has
        parsed it), stored beside the new version (annotation_labels) in the same transaction;
        the event itself is the same with or without them.

        Raises the rules' typed error (and changes nothing) when the event is not allowed.
        """
        seq = self.count + 1
        changes = rules.decide(self.state, event_json, seq)
        event_json = dict(event_json)
        event_json["integrity"] = integrity.link(self.head, event_json)
        recorded = next(c for c in changes if isinstance(c, rules.EventRecorded))
        params = EVENTS.insert_params(self.dataset_id, recorded.info)
        params["body"] = json.dumps(event_json, separators=(",", ":"))
        params["integrity"] = event_json["integrity"]
        _INSERT_EVENT.run(self.conn, params)
        merkle.append_leaf(self.conn, self.dataset_id, seq - 1, event_leaf(event_json))
        self.state.apply([c for c in changes if c is not recorded])
        if labels is not None:
            added = next((c.version for c in changes if isinstance(c, rules.VersionAdded)
                          and c.version.kind == rules.ANNOTATION), None)
            if added is None:
                raise TypeError("labels belong to an annotation create or update event")
            stats.insert_labels(self.conn, self.dataset_id,
                                stats.label_rows(added.uuid, added.version, labels))
        _ADVANCE_HEAD.run(self.conn, {"p_id": self.dataset_id,
                                      "p_head": event_json["integrity"], "p_count": seq})
        self.head, self.count = event_json["integrity"], seq
        return event_json


def events(conn: Connection, dataset_id: int, after_seq: int = 0,
           limit: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(seq, event) of a dataset's events after position `after_seq`, in log order, as stored
    (the JSON that was hashed, plus `integrity`); at most `limit`."""
    e = t.events.c
    query = select(e.seq, e.body).where(e.dataset_id == dataset_id, e.seq > after_seq) \
        .order_by(e.seq)
    if limit is not None:
        query = query.limit(limit)
    for seq, body in conn.execute(query):
        yield seq, json.loads(body)


def event_bodies(conn: Connection, dataset_id: int) -> Iterator[dict[str, Any]]:
    """Every event of a dataset in log order, as stored."""
    for _, event in events(conn, dataset_id):
        yield event
