"""`gonk-api verify`: recompute each dataset's hash chain and rebuild its derived state from the
log alone, through the same rules as the live write path, then compare with the stored state;
then check each release: its point still carries the integrity it recorded, and its manifest
recomputes to its manifest_sha256; the Merkle tree (every stored node, recomputed from the
events) and each release's signed checkpoint; then the per-label counts of the annotations (what the
dataset statistics sum: stats.check_labels): recomputed from the stored bytes of every
annotation version of a label kind schema, they must be exactly the rows stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .domain import events as ev
from .domain import integrity, rules
from .domain.errors import GonkError
from .domain.memory import MemoryState
from .installation import Installation
from .releases import check_releases
from .stats import check_labels
from .storage import datasets, merkle
from .storage.log import event_bodies
from .storage.projection import SqlState


@dataclass
class Verdict:
    dataset: str
    ok: bool
    events: int
    message: str

    def line(self) -> str:
        return f"{self.dataset}: {'OK' if self.ok else 'FAILED'}: {self.message}"


def content_hash(event: Mapping[str, Any]) -> str | None:
    if event["type"] in (ev.OBJECT_CREATE, ev.OBJECT_UPDATE):
        return event["object"]["hash"]
    if event["type"] in (ev.ANNOTATION_CREATE, ev.ANNOTATION_UPDATE):
        return event["annotation"]["hash"]
    return None


def verify_dataset(installation: Installation, name: str) -> Verdict:
    with installation.db.read() as conn:
        row = datasets.get(conn, name)
        state = MemoryState()
        head, seq = "", 0
        try:
            for seq, event in enumerate(integrity.verified(event_bodies(conn, row.id)),
                                        start=1):
                where = f"event {event.get('uuid')} (#{seq}, {event.get('type')})"
                try:
                    changes = rules.decide(state, dict(event), seq)
                except GonkError as exc:
                    return Verdict(name, False, seq, f"{where} is not allowed by the rules "
                                   f"when replayed: {exc.message}")
                digest = content_hash(event)
                if digest is not None and not installation.blobs.exists(digest):
                    return Verdict(name, False, seq, f"{where} references bytes {digest} that "
                                   "are missing from blob storage")
                state.apply(changes)
                head = event["integrity"]
        except integrity.ChainBroken as broken:
            event = broken.event
            return Verdict(name, False, broken.position, "broken hash chain at event "
                           f"{event.get('uuid')} (#{broken.position}, {event.get('type')}): "
                           f"stored integrity {broken.stored}, recomputed {broken.expected}")
        if (head, seq) != (row.head_integrity, row.event_count):
            return Verdict(name, False, seq, f"the stored head (#{row.event_count}, "
                           f"{row.head_integrity or 'empty'}) does not match the log's last "
                           f"event (#{seq}, {head or 'empty'})")
        tree_wrong = merkle.check(conn, row.id, merkle.event_leaves(conn, row.id))
        if tree_wrong is not None:
            return Verdict(name, False, seq, tree_wrong)
        rebuilt, stored = state.snapshot(), SqlState(conn, row.id).snapshot()
    for part in rebuilt:
        if rebuilt[part] != stored[part]:
            only_rebuilt = sorted(set(rebuilt[part]) - set(stored[part]))
            only_stored = sorted(set(stored[part]) - set(rebuilt[part]))
            return Verdict(name, False, seq, f"derived state differs from the log in {part}: "
                           f"the log gives {only_rebuilt[:3]}, the database has "
                           f"{only_stored[:3]}")
    wrong = check_releases(installation, row.id) or check_labels(installation, row.id)
    if wrong is not None:
        return Verdict(name, False, seq, wrong)
    return Verdict(name, True, seq, f"{seq} events, chain intact, Merkle tree matches, state "
                   "matches the log, releases and their checkpoints intact, label counts match "
                   f"the annotations, head {head}")
