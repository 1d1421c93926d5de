"""`gonk-api copy`: move a whole installation to other storage (for example from the embedded
SQLite + files to PostgreSQL + S3) without losing history.

Everything is copied: users (their key hashes, so keys keep working), and every dataset's events
in log order with the bytes they reference. Each event is appended on arrival through the same
rules and chain code as a live write, so the target's derived state is rebuilt, not copied, and
the integrity it computes must equal the source's, event by event; a difference stops the copy.
At the end every target dataset is verified like `gonk-api verify` does. The target must be
empty; the source is only read. A copy that stops leaves the target partly filled: empty it
(drop and recreate the database; the bucket prefix may stay, bytes are content-addressed) and
run the copy again once the source is fixed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select

from .domain import integrity
from .domain.errors import GonkError
from .instance import Instance
from .storage import tables as t
from .storage.database import DatasetLog, create_dataset, dataset_row
from .verify import Verdict, content_hash, verify_dataset

BATCH = 500  # events per target transaction


class CopyFailed(Exception):
    pass


@dataclass
class CopyReport:
    users: int = 0
    datasets: int = 0
    events: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    verdicts: list[Verdict] = field(default_factory=list)


def _source_events(source: Instance, dataset_id: int) -> Iterator[dict[str, Any]]:
    """Events in log order, read in pages so a long log never sits in memory."""
    after = 0
    while True:
        with source.db.read() as conn:
            rows = conn.execute(select(t.events.c.seq, t.events.c.body)
                                .where(t.events.c.dataset_id == dataset_id, t.events.c.seq > after)
                                .order_by(t.events.c.seq).limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            yield json.loads(row.body)
        after = rows[-1].seq


def _copy_blob(source: Instance, target: Instance, digest: str, report: CopyReport) -> None:
    if target.blobs.exists(digest):
        return
    size = source.blobs.size(digest)
    chunks = source.blobs.read_range(digest, 0, size - 1) if size else iter([b""])
    stored = target.blobs.put_stream(chunks)
    if stored.digest != digest:
        raise CopyFailed(f"bytes {digest} changed in transit (arrived as {stored.digest})")
    report.blobs += 1
    report.blob_bytes += size


def copy_installation(source: Instance, target: Instance,
                      progress: Callable[[str], None] = lambda _: None) -> CopyReport:
    report = CopyReport()
    with source.db.read() as conn:
        users = conn.execute(select(t.users)).mappings().all()
        datasets = conn.execute(select(t.datasets).order_by(t.datasets.c.id)).all()
    with target.db.write() as conn:
        if users:
            conn.execute(insert(t.users), [dict(u) for u in users])
    report.users = len(users)
    for ds in datasets:
        progress(f"{ds.name}: copying {ds.event_count} events")
        with target.db.write() as conn:
            create_dataset(conn, ds.name, ds.created_at)
        pending: list[dict[str, Any]] = []
        for event in _source_events(source, ds.id):
            digest = content_hash(event)
            if digest is not None:  # bytes first, so no committed event ever lacks its bytes
                _copy_blob(source, target, digest, report)
            pending.append(event)
            if len(pending) >= BATCH:
                _append_all(target, ds.name, pending)
                report.events += len(pending)
                pending = []
        if pending:
            _append_all(target, ds.name, pending)
            report.events += len(pending)
        with source.db.read() as conn:
            source_head = dataset_row(conn, ds.name).head_integrity
        with target.db.read() as conn:
            target_head = dataset_row(conn, ds.name).head_integrity
        if source_head != target_head:
            raise CopyFailed(f"{ds.name}: the copied chain ends at {target_head}, the source's "
                             f"at {source_head}")
        verdict = verify_dataset(target, ds.name)
        report.verdicts.append(verdict)
        if not verdict.ok:
            raise CopyFailed(f"{ds.name}: the copy does not verify: {verdict.message}")
        report.datasets += 1
    return report


def _append_all(target: Instance, dataset: str, events: list[dict[str, Any]]) -> None:
    with target.db.write() as conn:
        log = DatasetLog.lock(conn, dataset)
        for event in events:
            stored = event.get("integrity")
            body = {k: v for k, v in event.items() if k != "integrity"}
            where = f"{dataset}: event {event.get('uuid')} (#{log.count + 1})"
            if integrity.link(log.head, body) != stored:
                raise CopyFailed(f"{where} does not link to the one before it: the source's "
                                 "chain is broken (run `gonk-api verify` on the source)")
            try:
                log.append(body)
            except GonkError as exc:
                raise CopyFailed(f"{where} is not allowed by the rules when replayed: "
                                 f"{exc.message}") from None


__all__ = ["CopyFailed", "CopyReport", "copy_installation"]
