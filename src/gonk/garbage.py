"""`gonk-api gc`: remove blobs that no committed event references, and leftovers of interrupted
uploads. Only blobs and uploads older than a grace period are touched, so uploads in flight are
safe. Works through the BlobStore interface alone, so it is the same for files and buckets; the
race with concurrent writes is each store's `collect`'s business."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select

from .instance import Instance
from .storage import tables as t


@dataclass
class Collected:
    blobs: int = 0
    blob_bytes: int = 0
    temporary_files: int = 0
    kept: int = 0


def referenced_digests(instance: Instance) -> set[str]:
    """Every hash that a committed event references: the versions table holds one row per
    create/update event (verify checks it against the log)."""
    with instance.db.read() as conn:
        return set(conn.execute(select(t.versions.c.hash).distinct()).scalars())


def is_referenced(instance: Instance, digest: str) -> bool:
    with instance.db.read() as conn:
        return conn.execute(select(t.versions.c.hash).where(t.versions.c.hash == digest)
                            .limit(1)).first() is not None


def collect(instance: Instance, min_age_seconds: float, dry_run: bool = False) -> Collected:
    older_than = time.time() - min_age_seconds
    result = Collected()
    if not dry_run:
        instance.blobs.restore_set_aside()  # a gc that died mid-way left blobs aside
    referenced = referenced_digests(instance)
    for digest, mtime in list(instance.blobs.all_blobs()):
        if digest in referenced or mtime >= older_than:
            result.kept += 1
            continue
        if dry_run:
            try:
                result.blob_bytes += instance.blobs.size(digest)
            except FileNotFoundError:
                continue  # removed meanwhile
            result.blobs += 1
            continue
        freed = instance.blobs.collect(digest, older_than,
                                       lambda d=digest: is_referenced(instance, d))
        if freed or not instance.blobs.exists(digest):
            result.blobs += 1
            result.blob_bytes += freed
        else:
            result.kept += 1
    for name, changed in list(instance.blobs.temporary_uploads()):
        if changed < older_than:
            result.temporary_files += 1
            if not dry_run:
                instance.blobs.remove_temporary(name)
    return result
