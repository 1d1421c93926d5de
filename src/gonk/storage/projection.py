"""The projection tables as the rules see them: SqlState reads one dataset's derived state for
`rules.decide` (the StateView protocol) and applies the changes the rules return.

Every statement here runs on the write path, inside the dataset's write lock, so each is built
once (from the tables' descriptions in records.py) and run on the DBAPI cursor (prepared.py).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, and_, bindparam, or_, select

from ..domain import rules
from ..domain.memory import make_snapshot
from ..domain.rules import EventInfo, Item, Member, Owner, Settings, Version
from . import queue
from . import tables as t
from .prepared import Prepared
from .records import EVENTS, ITEMS, LINKS, MEMBERS, OWNERS, SETTINGS, VERSIONS, R, RecordTable

V = t.versions.c
LIVE = and_(V.create_rejected.is_(False), V.delete_accepted.is_(False))
"""A version that is neither rejected nor deleted (rules.Version.live)."""

_OWNER_NAMES = Prepared(select(t.owners.c.username).where(
    t.owners.c.dataset_id == bindparam("p_dataset_id")).order_by(t.owners.c.rank))
_ITEM = ITEMS.lookup()
_VERSION = VERSIONS.lookup()
_EVENT = EVENTS.lookup()
SCHEMA_NAMED = ITEMS.select().where(
    t.items.c.dataset_id == bindparam("p_dataset_id"), t.items.c.kind == rules.SCHEMA,
    t.items.c.name == bindparam("p_name"),
).order_by(t.items.c.created_seq.desc()).limit(1)
"""The schema item a name refers to: the newest one created with that name."""
_SCHEMA_NAMED = Prepared(SCHEMA_NAMED)
_HAS_LIVE_VERSION = Prepared(select(V.version).where(
    V.dataset_id == bindparam("p_dataset_id"), V.uuid == bindparam("p_uuid"), LIVE).limit(1))
# No ORDER BY here or in similar lookups: it would tempt SQLite into walking the primary key
# in order (a scan of the whole dataset) instead of the hash index. The rules allow at most one
# live object version per hash, so there is nothing to order.
_LIVE_OBJECT_WITH_HASH = Prepared(select(V.uuid, V.version).where(
    V.dataset_id == bindparam("p_dataset_id"), V.kind == rules.OBJECT,
    V.hash == bindparam("p_hash"), LIVE).limit(1))

VERSIONS_PER_QUERY = 250
"""Pairs looked up by one query (500 parameters: under every SQLite build's limit)."""

_ROLE = Prepared(select(t.members.c.role).where(*MEMBERS.key_condition()))
_SETTINGS = SETTINGS.lookup()
_EVENT_BODY = Prepared(select(t.events.c.body).where(
    t.events.c.dataset_id == bindparam("p_dataset_id"), t.events.c.uuid == bindparam("p_uuid")))
_INSERT_MEMBER = MEMBERS.inserter()
_UPDATE_MEMBER = MEMBERS.updater()
_DELETE_MEMBER = Prepared(t.members.delete().where(*MEMBERS.key_condition()))
_DELETE_SETTINGS = Prepared(t.dataset_settings.delete().where(*SETTINGS.key_condition()))
_INSERT_SETTINGS = SETTINGS.inserter()
_INSERT_OWNER = OWNERS.inserter()
_DELETE_OWNER = Prepared(t.owners.delete().where(*OWNERS.key_condition()))
_INSERT_ITEM = ITEMS.inserter()
_UPDATE_ITEM = ITEMS.updater()
_INSERT_VERSION = VERSIONS.inserter(created_seq=select(t.items.c.created_seq).where(
    t.items.c.dataset_id == bindparam("p_dataset_id"),
    t.items.c.uuid == bindparam("p_uuid")).scalar_subquery())
_UPDATE_VERSION = VERSIONS.updater()
_INSERT_LINK = LINKS.inserter()
_SET_REVIEW = EVENTS.updater()


class SqlState:
    """The rules' view of one dataset, read from the projection tables; applies their changes."""

    def __init__(self, conn: Connection, dataset_id: int) -> None:
        self.conn = conn
        self.dataset_id = dataset_id

    def owners(self) -> list[str]:
        return _OWNER_NAMES.scalars(self.conn, {"p_dataset_id": self.dataset_id})

    def item(self, item_uuid: str) -> Item | None:
        return self._lookup(ITEMS, _ITEM, item_uuid)

    def version(self, item_uuid: str, version: int) -> Version | None:
        return self._lookup(VERSIONS, _VERSION, item_uuid, version)

    def event(self, event_uuid: str) -> EventInfo | None:
        return self._lookup(EVENTS, _EVENT, event_uuid)

    def event_author(self, event_uuid: str) -> str | None:
        row = _EVENT_BODY.first(self.conn, {"p_dataset_id": self.dataset_id,
                                            "p_uuid": event_uuid})
        return json.loads(row.body).get("author") if row is not None else None

    def role_of(self, user: str) -> str | None:
        row = _ROLE.first(self.conn, MEMBERS.key_params(self.dataset_id, user))
        return row.role if row is not None else None

    def settings(self) -> Settings:
        return self._lookup(SETTINGS, _SETTINGS) or Settings()

    def versions_of(self, keys: tuple[tuple[str, int], ...]) -> dict[tuple[str, int], Version]:
        """One query per VERSIONS_PER_QUERY keys: an OR of primary-key lookups. (Row values,
        `(uuid, version) IN (VALUES ...)`, make SQLite walk the dataset's versions instead;
        tests/integration/test_query_plans.py checks the plan its workload's annotations
        make.)"""
        found: dict[tuple[str, int], Version] = {}
        for start in range(0, len(keys), VERSIONS_PER_QUERY):
            chunk = keys[start:start + VERSIONS_PER_QUERY]
            rows = self.conn.execute(VERSIONS.select().where(
                V.dataset_id == self.dataset_id,
                or_(*(and_(V.uuid == item_uuid, V.version == number)
                      for item_uuid, number in chunk))))
            for row in rows:
                record = VERSIONS.from_row(row)
                found[(record.uuid, record.version)] = record
        return found

    def _lookup(self, table: RecordTable[R], statement: Prepared, *key: Any) -> R | None:
        row = statement.first(self.conn, table.key_params(self.dataset_id, *key))
        return table.from_row(row) if row is not None else None

    def schema_named(self, name: str) -> Item | None:
        row = _SCHEMA_NAMED.first(self.conn, {"p_dataset_id": self.dataset_id, "p_name": name})
        return ITEMS.from_row(row) if row is not None else None

    def has_live_version(self, item_uuid: str) -> bool:
        return _HAS_LIVE_VERSION.first(self.conn, {"p_dataset_id": self.dataset_id,
                                                   "p_uuid": item_uuid}) is not None

    def live_object_with_hash(self, digest: str) -> tuple[str, int] | None:
        row = _LIVE_OBJECT_WITH_HASH.first(self.conn, {"p_dataset_id": self.dataset_id,
                                                       "p_hash": digest})
        return (row.uuid, row.version) if row else None

    def apply(self, changes: list[rules.Change]) -> None:
        """Store the rules' changes (but EventRecorded: the log stores the event itself)."""
        ds = self.dataset_id
        conn = self.conn
        for change in changes:
            match change:
                case rules.OwnerAdded(user, rank):
                    _INSERT_OWNER.run(conn, OWNERS.insert_params(ds, Owner(user, rank)))
                case rules.OwnerRemoved(user):
                    _DELETE_OWNER.run(conn, OWNERS.key_params(ds, user))
                case rules.MemberSet(user, role):
                    member = Member(user, role)
                    if not _UPDATE_MEMBER.run(conn, MEMBERS.update_params(ds, member)):
                        _INSERT_MEMBER.run(conn, MEMBERS.insert_params(ds, member))
                case rules.MemberRemoved(user):
                    _DELETE_MEMBER.run(conn, MEMBERS.key_params(ds, user))
                case rules.SettingsChanged(settings):
                    _DELETE_SETTINGS.run(conn, SETTINGS.key_params(ds))
                    _INSERT_SETTINGS.run(conn, SETTINGS.insert_params(ds, settings))
                case rules.ItemSaved(item) if item.versions == 1:  # a new item
                    _INSERT_ITEM.run(conn, ITEMS.insert_params(ds, item))
                case rules.ItemSaved(item):
                    _UPDATE_ITEM.run(conn, ITEMS.update_params(ds, item))
                case rules.VersionAdded(version):
                    params = VERSIONS.insert_params(ds, version)
                    # the item's created_seq, read by the insert
                    params.update(p_dataset_id=ds, p_uuid=version.uuid)
                    _INSERT_VERSION.run(conn, params)
                case rules.FlagsChanged(version):
                    _UPDATE_VERSION.run(conn, VERSIONS.update_params(ds, version))
                    queue.lower_floors_for(conn, ds, version)  # the work queue's floors
                case rules.LinksAdded(annotation_uuid, objects):
                    _INSERT_LINK.run_many(conn, [
                        LINKS.insert_params(ds, link)
                        for link in rules.links_of(annotation_uuid, objects)])
                case rules.ReviewRecorded(event_uuid, review, seq):
                    _SET_REVIEW.run(conn, {"p_dataset_id": ds, "p_uuid": event_uuid,
                                           "p_review": review, "p_reviewed_seq": seq})
                case _:
                    raise TypeError(f"cannot apply {change!r} here")

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """The stored derived state in the canonical form of domain.memory.make_snapshot."""
        def records(table: RecordTable[Any]) -> list[Any]:
            rows = self.conn.execute(table.select().where(
                table.table.c.dataset_id == self.dataset_id))
            return [table.from_row(row) for row in rows]

        return make_snapshot(owners=records(OWNERS), items=records(ITEMS),
                             versions=records(VERSIONS), links=records(LINKS),
                             events=records(EVENTS), members=records(MEMBERS),
                             settings=records(SETTINGS) or [Settings()])
