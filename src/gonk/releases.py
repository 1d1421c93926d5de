"""Points of a dataset's log, releases (named points) and their manifests, and diffs.

A **point** is "right after one event of the dataset's log", named by the event's uuid or by a
release's name. The **content** at a point is what storage/points.py reads: per item, its newest
version accepted and not deleted there; annotations only when every object version they link to
is in the content.

A release is a row of its own (storage/releases.py), not an event: the log stays exactly the
seed's, and a release only names a point of it, with what it held. It records the point's
integrity and the sha256 of its manifest, so `gonk-api verify` proves later that neither the log
up to the point nor the content there has changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import log_signing
from .domain import events as ev
from .domain import rules, validation
from .domain.errors import Forbidden, Invalid, NotFound
from .installation import Installation
from .storage import datasets, points, reads
from .storage import releases as stored
from .storage.database import Connection
from .storage.records import Release

MANIFEST_MIMETYPE = "application/jsonl"
ANNOTATION_MIMETYPE = "application/json"
DIFF_KINDS = points.KINDS


@dataclass(frozen=True)
class Point:
    """An event of a dataset's log, as a point to read at."""

    seq: int  # 1-based position in the log (0: before the first event, the empty dataset)
    uuid: str
    integrity: str

    def as_json(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "index": self.seq - 1, "integrity": self.integrity}


def resolve_point(conn: Connection, dataset_id: int, text: str, what: str = "as_of") -> Point:
    """The point a query parameter names: an event uuid (any case) or a release name. 400 for
    text that is neither shape; 404 for an event of another dataset (or none) or an unknown release."""
    if validation.is_uuid(text):
        found = reads.event_point(conn, dataset_id, validation.parse_uuid(text))
        if found is None:
            raise NotFound(f"'{what}' names no event of this dataset: {text}.")
        return Point(*found)
    try:
        name = validation.release_name(text)
    except Invalid:
        raise Invalid(f"'{what}' must be an event uuid or a release name; {text!r} is "
                      "neither.") from None
    release = stored.get(conn, dataset_id, name)
    if release is None:
        raise NotFound(f"'{what}' names no release of this dataset: {name}.")
    return Point(release.event_seq, release.event_uuid, release.event_integrity)


def point_seq(conn: Connection, dataset_id: int, text: str | None) -> int | None:
    """The seq of an `as_of` parameter, or None without one (the current state)."""
    return None if text is None else resolve_point(conn, dataset_id, text).seq


# --- the content at a point, and manifests -----------------------------------------------------

def manifest_line(entry: points.Entry) -> bytes:
    """One line of a manifest, for an entry of a diff's content (see manifest_row_line)."""
    v = entry.version
    return manifest_row_line(points.ContentRow(
        v.kind, v.uuid, v.version, v.name, v.format, v.size, v.hash, v.schema_uuid,
        v.schema_version, entry.created_seq, entry.objects))


_dumps = json.JSONEncoder(ensure_ascii=False).encode  # a JSON string, as RFC 8785 writes it


def manifest_row_line(row: points.ContentRow) -> bytes:
    """One line of a manifest: RFC 8785 canonical JSON of the version, and a newline.

    Written out field by field, keys in RFC 8785's order (sorted: kind, mimetype, name,
    objects, schema, sha256, size, uuid, version), strings through the JSON encoder without
    ASCII escapes and integers as decimals: exactly what RFC 8785 gives for these values
    (tests/unit/test_manifest_lines.py checks it against the rfc8785 package), at a fraction
    of a general encoder's cost per line."""
    if row.kind == rules.ANNOTATION:
        objects = ",".join(f'{{"uuid":"{o}","version":{n}}}' for o, n in row.objects)
        middle = (f'"mimetype":"{ANNOTATION_MIMETYPE}","name":null,"objects":[{objects}],'
                  f'"schema":{{"uuid":"{row.schema_uuid}","version":{row.schema_version}}},')
    else:
        middle = (f'"mimetype":{_dumps(row.format)},'
                  f'"name":{"null" if row.name is None else _dumps(row.name)},')
    return (f'{{"kind":"{row.kind}",{middle}"sha256":"{row.hash}","size":{row.size},'
            f'"uuid":"{row.uuid}","version":{row.version}}}\n').encode("utf-8")


@dataclass
class Counts:
    objects: int = 0
    schemas: int = 0
    annotations: int = 0
    bytes: int = 0
    stale_annotations: int = 0

    def add(self, row: points.ContentRow) -> None:
        self.bytes += row.size
        if row.kind == rules.OBJECT:
            self.objects += 1
        elif row.kind == rules.SCHEMA:
            self.schemas += 1
        else:
            self.annotations += 1

    def as_json(self) -> dict[str, int]:
        return {"objects": self.objects, "schemas": self.schemas,
                "annotations": self.annotations, "bytes": self.bytes,
                "stale_annotations": self.stale_annotations}


def content_at(installation: Installation, dataset_id: int, at: int,
               counts: Counts | None = None) -> Iterator[points.ContentRow]:
    """Every version in the content at `at`, in manifest order, one read transaction per chunk
    (the content at a past point never changes: later events only ever record positions after
    it). `counts`, when given, is filled as the rows go by."""
    for kind in points.KINDS:
        after: int | None = 0
        while after is not None:
            with installation.db.read() as conn:
                rows, stale, after = points.content_chunk(conn, dataset_id, kind, at, after)
            if counts is not None:
                counts.stale_annotations += stale
            for row in rows:
                if counts is not None:
                    counts.add(row)
                yield row


def manifest(installation: Installation, dataset_id: int, at: int,
             counts: Counts | None = None) -> Iterator[bytes]:
    """The manifest's lines, in chunks of many lines (one write each when streamed)."""
    lines: list[bytes] = []
    for row in content_at(installation, dataset_id, at, counts):
        lines.append(manifest_row_line(row))
        if len(lines) == 1000:
            yield b"".join(lines)
            lines = []
    if lines:
        yield b"".join(lines)


# --- releases --------------------------------------------------------------------------------

def release_json(release: Release) -> dict[str, Any]:
    return {
        "name": release.name, "description": release.description, "author": release.author,
        "created": release.created_at,
        "at": Point(release.event_seq, release.event_uuid, release.event_integrity).as_json(),
        "counts": {"objects": release.objects, "schemas": release.schemas,
                   "annotations": release.annotations, "bytes": release.bytes,
                   "stale_annotations": release.stale_annotations},
        "manifest_sha256": release.manifest_sha256,
        # the dataset's signed checkpoint at the point: the log's size and Merkle root there
        # (log_signing.py); a client proves any event is in the release with an inclusion
        # proof at that size
        "checkpoint": release.checkpoint,
    }


def create_release(installation: Installation, dataset: str, author: str, name: str,
                   description: str, at: str | None) -> dict[str, Any]:
    """Name a point of the dataset's log (`at`: an event uuid; None: the latest event). Owners
    only. The content is read in batches outside any lock: at a point already in the log it
    cannot change any more."""
    validation.release_name(name)
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset)
        if author not in reads.owner_names(conn, ds.id):
            raise Forbidden(f"Only an owner of this dataset may make releases; {author} is not "
                            "an owner.")
        if stored.get(conn, ds.id, name) is not None:
            raise stored.name_taken(name)
        if at is None:
            found = reads.event_at(conn, ds.id, ds.event_count)
            assert found is not None  # a dataset's log starts with its first owner
        else:
            found = reads.event_point(conn, ds.id, validation.parse_uuid(at, "'at' event uuid"))
            if found is None:
                raise NotFound(f"'at' names no event of dataset {dataset}: {at}.")
    point = Point(*found)
    counts = Counts()
    digest = hashlib.sha256()
    for line in manifest(installation, ds.id, point.seq, counts):
        digest.update(line)
    with installation.db.write() as conn:
        # still an owner (the content took a while to read): checked where the insert commits
        if author not in reads.owner_names(conn, ds.id):
            raise Forbidden(f"Only an owner of this dataset may make releases; {author} is no "
                            "longer an owner.")
        release = Release(0, name, description, author, ev.now(), point.seq, point.uuid,
                          point.integrity, counts.objects, counts.schemas, counts.annotations,
                          counts.bytes, counts.stale_annotations, digest.hexdigest(),
                          log_signing.checkpoint(conn, ds.id, dataset, point.seq))
        return release_json(stored.insert_release(conn, ds.id, release))


def _release(conn: Connection, dataset_id: int, dataset: str, name: str) -> Release:
    release = stored.get(conn, dataset_id, validation.release_name(name))
    if release is None:
        raise NotFound(f"No release named {name} in dataset {dataset}.")
    return release


def get_release(installation: Installation, dataset: str, name: str) -> dict[str, Any]:
    with installation.db.read() as conn:
        return release_json(_release(conn, datasets.get(conn, dataset).id, dataset, name))


def list_releases(installation: Installation, dataset: str, after: str | None,
                  limit: int | None) -> list[dict[str, Any]]:
    """In creation order; `after`: the name of the last release of the previous page."""
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset).id
        after_id = 0
        if after is not None:
            cursor = stored.get(conn, ds, validation.release_name(after))
            if cursor is None:
                raise NotFound(f"The 'after' cursor {after} names no release of this dataset.")
            after_id = cursor.id
        return [release_json(r) for r in stored.page(conn, ds, after_id, limit)]


def release_manifest(installation: Installation, dataset: str,
                     name: str) -> tuple[Release, Iterator[bytes]]:
    """The release, and its manifest's lines as they are read (404 before the first line)."""
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset).id
        release = _release(conn, ds, dataset, name)
    return release, manifest(installation, ds, release.event_seq)


def check_releases(installation: Installation, dataset_id: int) -> str | None:
    """What is wrong with the dataset's releases (None: nothing): each release's point must
    still carry the integrity it recorded, and its manifest recompute to its sha256."""
    with installation.db.read() as conn:
        every = stored.page(conn, dataset_id, 0, None)
        name = datasets.name_of(conn, dataset_id)
    for release in every:
        with installation.db.read() as conn:
            found = reads.event_at(conn, dataset_id, release.event_seq)
        if found is None or found[1:] != (release.event_uuid, release.event_integrity):
            now = f"event {found[1]} with integrity {found[2]}" if found else "no event"
            return (f"release {release.name}: its point #{release.event_seq} was event "
                    f"{release.event_uuid} with integrity {release.event_integrity}; the log "
                    f"now has {now} there")
        with installation.db.read() as conn:
            expected = log_signing.checkpoint(conn, dataset_id, name, release.event_seq)
        if release.checkpoint != expected:
            return (f"release {release.name}: its recorded checkpoint is not the installation's "
                    f"signed checkpoint of the log at its point #{release.event_seq}")
        digest = hashlib.sha256()
        for line in manifest(installation, dataset_id, release.event_seq):
            digest.update(line)
        if digest.hexdigest() != release.manifest_sha256:
            return (f"release {release.name}: its manifest recomputes to sha256 "
                    f"{digest.hexdigest()}, not the {release.manifest_sha256} it recorded")
    return None


# --- diffs -----------------------------------------------------------------------------------

def _side(entry: points.Entry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"version": entry.version.version, "name": entry.version.name,
            "sha256": entry.version.hash}


def _change(item: points.ItemAt) -> dict[str, Any] | None:
    """The diff's entry for an item read at (from, to), or None if it did not change."""
    old, new = item.at
    if old is None and new is None:
        return None
    if old is not None and new is not None and old.version == new.version:
        return None
    change = "added" if old is None else "removed" if new is None else "changed"
    return {"kind": item.kind, "uuid": item.uuid, "change": change, "from": _side(old),
            "to": _side(new)}


def diff_page(installation: Installation, dataset: str, from_point: str | None,
              to_point: str | None, after: str | None, limit: int) -> list[dict[str, Any]]:
    """diff_page_to's changes."""
    return diff_page_to(installation, dataset, from_point, to_point, after, limit)[0]


def diff_page_to(installation: Installation, dataset: str, from_point: str | None,
                 to_point: str | None, after: str | None, limit: int
                 ) -> tuple[list[dict[str, Any]], str]:
    """The changes between the content at two points (`from` None: the empty dataset; `to`
    None: the latest event), by kind (schemas, objects, annotations) then creation order, at
    most `limit`, after the change whose uuid is `after`. Each page reads items from the
    cursor on, in batches, until it has `limit` changes: its cost does not grow with its
    position. Also returns the uuid of the `to` event, so that the following pages of a diff
    "to the latest event" can name the same point while events are appended."""
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset)
        start = 0 if from_point is None else resolve_point(conn, ds.id, from_point, "from").seq
        if to_point is None:
            latest = reads.event_at(conn, ds.id, ds.event_count)
            assert latest is not None  # a dataset's log starts with its first owner
            end, end_uuid = latest[0], latest[1]
        else:
            found = resolve_point(conn, ds.id, to_point, "to")
            end, end_uuid = found.seq, found.uuid
        kind_index, after_seq = 0, 0
        if after is not None:
            cursor = reads.item(conn, ds.id, validation.parse_uuid(after, "'after' cursor"))
            if cursor is None:
                raise NotFound(f"The 'after' cursor {after} names nothing in this dataset.")
            kind_index, after_seq = DIFF_KINDS.index(cursor.kind), cursor.created_seq
    changes: list[dict[str, Any]] = []
    with installation.db.read() as conn:
        candidates = points.changed_items(conn, ds.id, start, end)
    if candidates is not None:  # points close together: only what the accepts between touched
        remaining = [c for c in candidates if (DIFF_KINDS.index(c[0]), c[2])
                     > (kind_index, after_seq)]
        while remaining and len(changes) < limit:
            kind = remaining[0][0]
            listed = [(uuid, seq) for k, uuid, seq in remaining[:points.BATCH] if k == kind]
            remaining = remaining[len(listed):]
            with installation.db.read() as conn:
                read_items = points.items_listed_at(conn, ds.id, kind, listed, (start, end),
                                                    in_range=False)
            for candidate in read_items:
                entry = _change(candidate)
                if entry is not None:
                    changes.append(entry)
                    if len(changes) == limit:
                        break
        return changes, end_uuid
    count = min(points.BATCH, limit + 1)
    for kind in DIFF_KINDS[kind_index:]:
        while len(changes) < limit:
            with installation.db.read() as conn:
                batch = points.items_at(conn, ds.id, kind, (start, end), after_seq, count)
            if not batch:
                break
            for item in batch:
                after_seq = item.created_seq
                change = _change(item)
                if change is not None:
                    changes.append(change)
                    if len(changes) == limit:
                        return changes, end_uuid
            count = min(points.BATCH, count * 2)
        after_seq = 0
    return changes, end_uuid
