"""An in-memory projection of one dataset's log. It implements the rules' StateView and applies
their changes to plain dicts: used to replay a log (verify) and by the unit tests of the rules.
"""

from __future__ import annotations

from typing import Any

from . import rules
from .rules import (
    EventInfo,
    EventRecorded,
    FlagsChanged,
    Item,
    ItemSaved,
    LinksAdded,
    OwnerAdded,
    OwnerRemoved,
    ReviewRecorded,
    Version,
    VersionAdded,
)


class MemoryState:
    def __init__(self) -> None:
        self.owner_ranks: dict[str, int] = {}
        self.items: dict[str, Item] = {}
        self.versions: dict[tuple[str, int], Version] = {}
        self.links: set[tuple[str, str, int]] = set()
        self.events: dict[str, EventInfo] = {}
        self.event_seqs: dict[str, int] = {}
        self.schema_names: dict[str, list[str]] = {}  # name -> item uuids, oldest first
        self.hashes: dict[str, set[tuple[str, int]]] = {}  # object hash -> versions

    # StateView
    def owners(self) -> list[str]:
        return sorted(self.owner_ranks, key=self.owner_ranks.__getitem__)

    def item(self, item_uuid: str) -> Item | None:
        return self.items.get(item_uuid)

    def version(self, item_uuid: str, version: int) -> Version | None:
        return self.versions.get((item_uuid, version))

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

    # applying changes
    def apply(self, changes: list[rules.Change]) -> None:
        for change in changes:
            match change:
                case OwnerAdded(user, rank):
                    self.owner_ranks[user] = rank
                case OwnerRemoved(user):
                    del self.owner_ranks[user]
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
                    self.links.update((annotation_uuid, u, v) for u, v in objects)
                case ReviewRecorded(event_uuid, review):
                    old = self.events[event_uuid]
                    self.events[event_uuid] = EventInfo(
                        old.uuid, old.type, review, old.target_uuid, old.target_version)
                case EventRecorded(info, seq):
                    self.events[info.uuid] = info
                    self.event_seqs[info.uuid] = seq
                case _:
                    raise TypeError(f"unknown change {change!r}")

    def snapshot(self) -> dict[str, Any]:
        """A plain, comparable picture of the whole state (see storage's snapshot)."""
        return make_snapshot(
            owners=self.owner_ranks.items(),
            items=self.items.values(),
            versions=self.versions.values(),
            links=self.links,
            events=((self.event_seqs[e.uuid], e) for e in self.events.values()),
        )


def make_snapshot(owners, items, versions, links, events) -> dict[str, Any]:
    """One canonical form for a dataset's derived state, whatever store it was read from."""
    return {
        "owners": sorted((rank, user) for user, rank in owners),
        "items": sorted((i.uuid, i.kind, i.name, i.created_seq, i.versions) for i in items),
        "versions": sorted(
            (v.uuid, v.version, v.kind, v.name, v.format, v.size, v.hash, v.schema_uuid,
             v.schema_version, v.cp, v.cr, v.dp, v.da) for v in versions),
        "links": sorted(links),
        "events": sorted(
            (seq, e.uuid, e.type, e.review, e.target_uuid, e.target_version)
            for seq, e in events),
    }
