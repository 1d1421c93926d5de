"""`gonk-api copy`: move a whole installation to other storage (for example from the embedded
SQLite + files to PostgreSQL + S3) without losing history.

Everything is copied: users (their key hashes, so keys keep working), every dataset's events
in log order with the bytes they reference, its releases, and its annotations' per-label counts
(annotation_labels, which the dataset statistics read: not derived from the log alone, so
carried row by row, then recomputed from the target's bytes by the verify), and the work
queue's priorities and assignees. Live leases are not copied: a copy is made with the server
stopped, and a claim on the source ends there (claimers claim again on the target). Each event is
appended on arrival through the same rules and chain code as a live write, so the target's
derived state is rebuilt, not copied, and the integrity it computes must equal the source's,
event by event; a difference stops the copy.
At the end every target dataset is verified like `gonk-api verify` does. The target must be
empty; the source is only read. A copy that stops leaves the target partly filled: empty it
(drop and recreate the database; the bucket prefix may stay, bytes are content-addressed) and
run the copy again once the source is fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select

from .domain import integrity
from .domain.errors import GonkError
from .installation import Installation
from .stats import copy_labels
from .storage import datasets, log, queue, users
from .storage import releases as stored_releases
from .storage import tables as t
from .storage.log import DatasetLog
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
    releases: int = 0
    label_rows: int = 0
    queued_objects: int = 0  # objects with a priority or an assignee
    verdicts: list[Verdict] = field(default_factory=list)


def _source_events(source: Installation, dataset_id: int) -> Iterator[dict[str, Any]]:
    """Events in log order, read in pages so a long log never sits in memory."""
    after = 0
    while True:
        with source.db.read() as conn:
            page = list(log.events(conn, dataset_id, after, BATCH))
        if not page:
            return
        for _, event in page:
            yield event
        after = page[-1][0]


def _copy_blob(source: Installation, target: Installation, digest: str, report: CopyReport) -> None:
    if target.blobs.exists(digest):
        return
    size = source.blobs.size(digest)
    chunks = source.blobs.read_range(digest, 0, size - 1) if size else iter([b""])
    stored = target.blobs.put_stream(chunks)
    if stored.digest != digest:
        raise CopyFailed(f"bytes {digest} changed in transit (arrived as {stored.digest})")
    report.blobs += 1
    report.blob_bytes += size


def copy_installation(source: Installation, target: Installation,
                      progress: Callable[[str], None] = lambda _: None) -> CopyReport:
    report = CopyReport()
    with source.db.read() as conn:
        all_users = users.every(conn)
        all_datasets = datasets.every(conn)
        signing_keys = conn.execute(select(t.log_keys).order_by(t.log_keys.c.id)).all()
    with target.db.write() as conn:
        users.insert_all(conn, all_users)
        # the source's log signing key (and origin) replaces the one the target was made with:
        # the same datasets keep the same checkpoints, and monitors their pinned key
        conn.execute(delete(t.log_keys))
        for key in signing_keys:
            conn.execute(insert(t.log_keys).values(**key._mapping))
    report.users = len(all_users)
    for ds in all_datasets:
        progress(f"{ds.name}: copying {ds.event_count} events")
        with target.db.write() as conn:
            datasets.create(conn, ds.name, ds.created_at)
        pending: list[Mapping[str, Any]] = []
        try:
            for event in integrity.verified(_source_events(source, ds.id)):
                digest = content_hash(event)
                if digest is not None:  # bytes first: no committed event ever lacks its bytes
                    _copy_blob(source, target, digest, report)
                pending.append(event)
                if len(pending) >= BATCH:
                    _append_all(target, ds.name, pending)
                    report.events += len(pending)
                    pending = []
        except integrity.ChainBroken as broken:
            raise CopyFailed(f"{ds.name}: event {broken.event_uuid} (#{broken.position}) does "
                             "not link to the one before it: the source's chain is broken (run "
                             "`gonk-api verify` on the source)") from None
        if pending:
            _append_all(target, ds.name, pending)
            report.events += len(pending)
        with source.db.read() as conn:
            source_head = datasets.get(conn, ds.name).head_integrity
        with target.db.read() as conn:
            target_head = datasets.get(conn, ds.name).head_integrity
        if source_head != target_head:
            raise CopyFailed(f"{ds.name}: the copied chain ends at {target_head}, the source's "
                             f"at {source_head}")
        report.releases += _copy_releases(source, target, ds.name)
        report.label_rows += copy_labels(source, target, ds.name)
        report.queued_objects += _copy_queue(source, target, ds.name)
        verdict = verify_dataset(target, ds.name)
        report.verdicts.append(verdict)
        if not verdict.ok:
            raise CopyFailed(f"{ds.name}: the copy does not verify: {verdict.message}")
        report.datasets += 1
    return report


def _copy_releases(source: Installation, target: Installation, dataset: str) -> int:
    """The dataset's releases as they are (name, author, creation time, point, counts,
    manifest sha256 and signed checkpoint: the key is the source's), in creation order; the
    verify that follows recomputes each manifest and checkpoint on the target."""
    with source.db.read() as conn:
        every = stored_releases.page(conn, datasets.get(conn, dataset).id, 0, None)
    with target.db.write() as conn:
        target_id = datasets.get(conn, dataset).id
        for release in every:
            stored_releases.insert_release(conn, target_id, release)
    return len(every)


def _copy_queue(source: Installation, target: Installation, dataset: str) -> int:
    """The objects' priorities and assignees (the work queue's order, set by its managers)."""
    with source.db.read() as conn:
        every = queue.queued_objects(conn, datasets.get(conn, dataset).id)
    with target.db.write() as conn:
        target_id = datasets.get(conn, dataset).id
        for queued in every:
            queue.save_queued_object(conn, target_id, queued)
    return len(every)


def _append_all(target: Installation, dataset: str, events: list[Mapping[str, Any]]) -> None:
    """Append events (already checked to link, by integrity.verified) through the rules, as a
    live write would; the integrity the target computes must then be the source's."""
    with target.db.write() as conn:
        dataset_log = DatasetLog.lock(conn, dataset)
        for event in events:
            body = {k: v for k, v in event.items() if k != "integrity"}
            try:
                stored = dataset_log.append(body)
            except GonkError as exc:
                raise CopyFailed(f"{dataset}: event {event.get('uuid')} (#{dataset_log.count + 1})"
                                 f" is not allowed by the rules when replayed: "
                                 f"{exc.message}") from None
            if stored["integrity"] != event["integrity"]:
                raise CopyFailed(f"{dataset}: event {event.get('uuid')} (#{dataset_log.count}) "
                                 "was stored with another integrity than the source's")


__all__ = ["CopyFailed", "CopyReport", "copy_installation"]
