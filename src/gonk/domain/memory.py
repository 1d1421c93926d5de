"""An in-memory projection of one dataset's log. It implements the rules' StateView and applies
their changes to plain dicts of the rules' records: used to replay a log (verify) and by the unit
tests of the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, replace
from typing import Any

from . import rules
from .rules import (
    EventInfo,
    EventRecorded,
    FlagsChanged,
    Item,
    ItemSaved,
    Link,
    LinksAdded,
    Member,
    MemberRemoved,
    MemberSet,
    Owner,
    OwnerAdded,
    OwnerRemoved,
    ReviewRecorded,
    Settings,
    SettingsChanged,
    Version,
    VersionAdded,
)


class MemoryState:
    def __init__(self) -> None:
        self.owner_records: dict[str, Owner] = {}
        self.members: dict[str, str] = {}  # user -> role
        self.dataset_settings = Settings()
        self.authors: dict[str, str] = {}  # event uuid -> its author
        self.items: dict[str, Item] = {}
        self.versions: dict[tuple[str, int], Version] = {}
        self.links: set[Link] = set()
        self.events: dict[str, EventInfo] = {}
        self.schema_names: dict[str, list[str]] = {}  # name -> item uuids, oldest first
        self.hashes: dict[str, set[tuple[str, int]]] = {}  # object hash -> versions

    # StateView
    def owners(self) -> list[str]:
        return [o.username for o in sorted(self.owner_records.values(), key=lambda o: o.rank)]

    def item(self, item_uuid: str) -> Item | None:
        return self.items.get(item_uuid)

    def version(self, item_uuid: str, version: int) -> Version | None:
        return self.versions.get((item_uuid, version))

    def versions_of(self, keys: tuple[tuple[str, int], ...]) -> dict[tuple[str, int], Version]:
        return {key: self.versions[key] for key in keys if key in self.versions}

    def schema_named(self, name: str) -> Item | None:
        uuids = self.schema_names.get(name)
        return self.items[uuids[-1]] if uuids else None

    def has_live_version(self, item_uuid: str) -> bool:
        item = self.items[item_uuid]
        return any(self.versions[(item_uuid, n)].live for n in range(item.versions))

    def live_object_with_hash(self, digest: str) -> tuple[str, int] | None:
        for key in sorted(self.hashes.get(digest, ())):
            if self.versions[key].live:
                return key
        return None

    def event(self, event_uuid: str) -> EventInfo | None:
        return self.events.get(event_uuid)

    def event_author(self, event_uuid: str) -> str | None:
        return self.authors.get(event_uuid)

    def role_of(self, user: str) -> str | None:
        return self.members.get(user)

    def settings(self) -> Settings:
        return self.dataset_settings

    # applying changes
    def apply(self, changes: list[rules.Change]) -> None:
        for change in changes:
            match change:
                case OwnerAdded(user, rank):
                    self.owner_records[user] = Owner(user, rank)
                case OwnerRemoved(user):
                    del self.owner_records[user]
                case MemberSet(user, role):
                    self.members[user] = role
                case MemberRemoved(user):
                    del self.members[user]
                case SettingsChanged(settings):
                    self.dataset_settings = settings
                case ItemSaved(item):
                    if item.uuid not in self.items and item.kind == rules.SCHEMA:
                        self.schema_names.setdefault(item.name or "", []).append(item.uuid)
                    self.items[item.uuid] = item
                case VersionAdded(version) | FlagsChanged(version):
                    self.versions[(version.uuid, version.version)] = version
                    if version.kind == rules.OBJECT:
                        self.hashes.setdefault(version.hash, set()).add(
                            (version.uuid, version.version))
                case LinksAdded(annotation_uuid, objects):
                    self.links.update(rules.links_of(annotation_uuid, objects))
                case ReviewRecorded(event_uuid, review, seq):
                    self.events[event_uuid] = replace(self.events[event_uuid], review=review,
                                                      reviewed_seq=seq)
                case EventRecorded(info, author):
                    self.events[info.uuid] = info
                    self.authors[info.uuid] = author
                case _:
                    raise TypeError(f"unknown change {change!r}")

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """A plain, comparable picture of the whole state (see storage's snapshot)."""
        return make_snapshot(owners=self.owner_records.values(), items=self.items.values(),
                             versions=self.versions.values(), links=self.links,
                             events=self.events.values(),
                             members=[Member(u, r) for u, r in self.members.items()],
                             settings=[self.dataset_settings])


def make_snapshot(owners: Iterable[Owner], items: Iterable[Item], versions: Iterable[Version],
                  links: Iterable[Link], events: Iterable[EventInfo],
                  members: Iterable[Member], settings: Iterable[Settings],
                  ) -> dict[str, list[tuple[Any, ...]]]:
    """One canonical form for a dataset's derived state, whatever store it was read from: each
    part is the sorted tuples of its records' fields (so a field added to a record is compared
    without changing this function)."""
    parts: dict[str, Iterable[Any]] = {"owners": owners, "items": items, "versions": versions,
                                       "links": links, "events": events, "members": members,
                                       "settings": settings}
    return {part: sorted(astuple(record) for record in records)
            for part, records in parts.items()}
