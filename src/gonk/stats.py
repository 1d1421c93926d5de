"""Dataset statistics (GET /datasets/D/stats, with or without ?as_of=), and the per-label counts
they read (table annotation_labels): written by the annotation write path, filled by `gonk-api
migrate` for annotations stored before, checked by `gonk-api verify`, carried by `gonk-api copy`.

The answer, at a point (an event uuid or a release name, as everywhere; without `as_of` the
latest event):

    {"dataset": D, "at": {"uuid", "index", "integrity"},
     "objects": {"accepted": n, "pending": n, "deleted": n, "rejected": n},
     "schemas": {"accepted": n, "pending": n, "deprecated": n, "rejected": n},
     "annotations": {"accepted": n, "pending": n, "deleted": n, "rejected": n},
     "bytes": n, "annotated_objects": n,
     "labels": [{"schema": name, "kind": kind, "label": label, "count": n}, ...]}

- **Statuses** count items (uuids) that existed at the point, each by the status of its
  **newest version there**, in the status lists' words and with their membership
  (`GET .../objects/<status>?as_of=`): a version accepted whose deletion awaits review is in
  both "accepted" and "pending", so the four counts can add up to more than the items.
- **bytes**: the sum of the sizes of the versions in the content at the point (per item its
  newest version accepted and not deleted there; annotations only when every object version
  they link to is in it): exactly a release's `counts.bytes` at that point.
- **annotated_objects**: objects in that content that at least one annotation in that content
  is attached to.
- **labels**: for the annotations in that content whose schema version declares a label kind
  (`x-gonk-kind`), how many labels of each class they hold, summed per (schema name, kind,
  label); most frequent first, then by schema name, then by label. Annotations of other schemas
  count in "annotations" and add no labels; captions have none.

Nothing here reads annotation bytes: the labels were counted when each annotation version was
created, from the document the service had just validated, and stored beside it in the same
transaction (storage/stats.py; the event itself is the seed's, unchanged). Annotation
versions stored before that are counted by `gonk-api migrate` (fill_labels), reading each one's
bytes once. The rule is the same everywhere: an annotation version has label rows when its
schema version declares a known kind and its document has that kind's shape (label_kinds.misfit
is None); one row per class, the class's count.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .domain import content, label_kinds, rules
from .domain.errors import GonkError
from .installation import Installation
from .releases import Point, resolve_point
from .storage import datasets, reads
from .storage import stats as stored
from .storage.database import Connection
from .storage.records import AnnotationLabel

BATCH = 500
"""Annotations read per batch by migrate, verify and copy."""


def dataset_stats(installation: Installation, dataset: str,
                  as_of: str | None = None) -> dict[str, Any]:
    """The statistics of a dataset at a point (see the module's docstring): a dozen aggregate
    queries in one read transaction, none reading a blob."""
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset)
        if as_of is None:
            latest = reads.event_at(conn, ds.id, ds.event_count)
            assert latest is not None  # a dataset's log starts with its first owner
            point = Point(*latest)
        else:
            point = resolve_point(conn, ds.id, as_of)
        at = point.seq
        stored.begin(conn)
        counts, total_bytes = {}, 0
        for kind in (rules.OBJECT, rules.SCHEMA, rules.ANNOTATION):
            counts[kind], _, size = stored.kind_totals(conn, ds.id, kind, at)
            if kind != rules.ANNOTATION:  # (annotations: the staleness rule, below)
                total_bytes += size
        counts[rules.SCHEMA]["deprecated"] = counts[rules.SCHEMA].pop("deleted")
        annotations = stored.annotation_content(conn, ds.id, at)
        total_bytes += annotations.bytes
        names = stored.schema_names(conn, ds.id, (row[0] for row in annotations.labels))
    labels: dict[tuple[str, str, str], int] = {}
    for schema_uuid, kind, text, count in annotations.labels:
        # (a name may have passed from a schema to a newer one: both count under it)
        key = (names.get(schema_uuid, schema_uuid), kind, json.loads(text))
        labels[key] = labels.get(key, 0) + count
    ordered = sorted(labels.items(), key=lambda e: (-e[1], e[0][0], e[0][2], e[0][1]))
    return {
        "dataset": dataset,
        "at": point.as_json(),
        "objects": counts[rules.OBJECT],
        "schemas": counts[rules.SCHEMA],
        "annotations": counts[rules.ANNOTATION],
        "bytes": total_bytes,
        "annotated_objects": annotations.annotated_objects,
        "labels": [{"schema": schema, "kind": kind, "label": label, "count": count}
                   for (schema, kind, label), count in ordered],
    }


# --- the labels of stored annotations (migrate, verify) ----------------------------------------

def schema_kind(data: bytes) -> str | None:
    """The label kind a stored schema version declares; None for none, and for a schema that
    is not JSON or declares an unknown kind (stored before kinds were checked: no annotation of
    it can be created or updated since)."""
    try:
        return label_kinds.declared_kind(json.loads(data))
    except (ValueError, RecursionError, label_kinds.UnknownKind):
        return None


def stored_labels(kind: str, data: bytes) -> content.Labels | None:
    """The labels of a stored annotation version of a `kind` schema, as its create would have
    counted them; None when its document does not have the kind's shape (stored before the
    shapes were checked)."""
    try:
        document = content.parse_json(data, "annotation")
    except GonkError:
        return None
    if label_kinds.misfit(kind, document) is not None:
        return None
    return content.labels_of(kind, document)


class MissingBytes(Exception):
    """The bytes of a version whose labels are counted are missing from the blob store."""


class _Recount:
    """Recomputes the label rows of a dataset's annotation versions from their bytes."""

    def __init__(self, installation: Installation, dataset_id: int) -> None:
        self.installation = installation
        self.dataset_id = dataset_id
        self.kinds: dict[tuple[str, int], str | None] = {}

    def _kind(self, conn: Connection, schema_uuid: str, schema_version: int) -> str | None:
        key = (schema_uuid, schema_version)
        if key not in self.kinds:
            digest = stored.version_hash(conn, self.dataset_id, schema_uuid, schema_version)
            self.kinds[key] = (schema_kind(self.read(digest, f"schema {schema_uuid} version "
                                                             f"{schema_version}"))
                               if digest is not None else None)
        return self.kinds[key]

    def read(self, digest: str, what: str) -> bytes:
        try:
            return self.installation.blobs.get(digest)
        except FileNotFoundError:
            raise MissingBytes(f"the bytes {digest} of {what} are missing from blob "
                               "storage") from None

    def batches(self, connect: Callable[[], AbstractContextManager[Connection]]
                ) -> Iterator[tuple[list[str], list[AnnotationLabel]]]:
        """Per batch of annotations (creation order): (their uuids, the label rows their
        versions' bytes give). `connect()`: a transaction to read the batch's rows in (the
        bytes are read after it ends)."""
        after = 0
        while True:
            with connect() as conn:
                items = stored.annotation_items(conn, self.dataset_id, after, BATCH)
                if not items:
                    return
                uuids = [uuid for uuid, _ in items]
                versions = stored.annotation_versions(conn, self.dataset_id, uuids)
                kinds = {(v.uuid, v.version): self._kind(conn, v.schema_uuid, v.schema_version)
                         for v in versions}
            rows: list[AnnotationLabel] = []
            for v in versions:
                kind = kinds[(v.uuid, v.version)]
                if kind is None:
                    continue
                labels = stored_labels(kind, self.read(
                    v.hash, f"annotation {v.uuid} version {v.version}"))
                if labels is not None:
                    rows += stored.label_rows(v.uuid, v.version, labels)
            yield uuids, rows
            after = items[-1][1]


def fill_labels(installation: Installation, conn: Connection) -> int:
    """Write the label rows of every annotation version already stored, in every dataset (the
    table has just been created, empty): each kind annotation's bytes read once, rows inserted
    a batch at a time, inside the caller's transaction (migrate's). Returns the rows written."""
    written = 0
    for ds in datasets.every(conn):
        recount = _Recount(installation, ds.id)
        for _, rows in recount.batches(lambda: nullcontext(conn)):
            stored.insert_labels(conn, ds.id, rows)
            written += len(rows)
    return written


def check_labels(installation: Installation, dataset_id: int) -> str | None:
    """What is wrong with the dataset's label rows (None: nothing): every annotation version's
    rows must be exactly what its bytes give, and no other rows may exist."""
    recount = _Recount(installation, dataset_id)
    expected_rows = 0
    try:
        for uuids, rows in recount.batches(installation.db.read):
            with installation.db.read() as conn:
                found = stored.labels_of_versions(conn, dataset_id, uuids)
            expected_rows += len(rows)
            if set(found) != set(rows):
                return _difference(rows, found)
    except MissingBytes as exc:
        return f"annotation labels cannot be checked: {exc}"
    with installation.db.read() as conn:
        total = stored.label_row_count(conn, dataset_id)
    if total != expected_rows:
        return (f"annotation labels: the database has {total} label rows, the annotations' "
                f"bytes give {expected_rows} (rows of annotations that do not exist)")
    return None


def _difference(expected: list[AnnotationLabel], found: list[AnnotationLabel]) -> str:
    wrong = sorted(set(expected) ^ set(found),
                   key=lambda r: (r.annotation_uuid, r.annotation_version, r.position))[0]
    key = (wrong.annotation_uuid, wrong.annotation_version)

    def shown(rows: list[AnnotationLabel]) -> str:
        mine = sorted((r for r in rows if (r.annotation_uuid, r.annotation_version) == key),
                      key=lambda r: r.position)
        return "{" + ", ".join(f"{r.label_json}: {r.count} ({r.kind})" for r in mine) + "}"

    return (f"annotation labels differ from the annotations' bytes: annotation {key[0]} "
            f"version {key[1]}: its bytes give {shown(expected)}, the database has "
            f"{shown(found)}")


def copy_labels(source: Installation, target: Installation, dataset: str) -> int:
    """The dataset's label rows, from source to target (whose annotations are the same uuids
    and versions: the copy re-appended the log), a batch of annotations at a time. The verify
    that follows recomputes them from the target's bytes."""
    copied, after = 0, 0
    with source.db.read() as conn:
        source_id = datasets.get(conn, dataset).id
    with target.db.read() as conn:
        target_id = datasets.get(conn, dataset).id
    while True:
        with source.db.read() as conn:
            items = stored.annotation_items(conn, source_id, after, BATCH)
            rows = stored.labels_of_versions(conn, source_id, [uuid for uuid, _ in items])
        if not items:
            return copied
        with target.db.write() as conn:
            stored.insert_labels(conn, target_id, rows)
        copied += len(rows)
        after = items[-1][1]
