"""`gonk-api gc`: remove blobs that no committed event references, and leftovers of interrupted
uploads. Only blobs and uploads older than a grace period are touched, so uploads in flight are
safe. Works through the BlobStore interface alone, so it is the same for files and buckets; the
race with concurrent writes is each store's `collect`'s business."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

from . import thumbnails
from .installation import Installation
from .storage import reads


@dataclass
class Collected:
    blobs: int = 0
    blob_bytes: int = 0
    temporary_files: int = 0
    kept: int = 0
    thumbnails: int = 0  # cached thumbnails removed (thumbnails.prune)
    thumbnail_bytes: int = 0


def referenced_digests(installation: Installation) -> set[str]:
    """Every hash that a committed event references."""
    with installation.db.read() as conn:
        return reads.referenced_digests(conn)


def is_referenced(installation: Installation, digest: str) -> bool:
    with installation.db.read() as conn:
        return reads.is_referenced(conn, digest)


def collect(installation: Installation, min_age_seconds: float, dry_run: bool = False) -> Collected:
    older_than = time.time() - min_age_seconds
    result = Collected()
    if not dry_run:
        installation.blobs.restore_set_aside()  # a gc that died mid-way left blobs aside
    referenced = referenced_digests(installation)
    for digest, mtime in list(installation.blobs.all_blobs()):
        if digest in referenced or mtime >= older_than:
            result.kept += 1
            continue
        if dry_run:
            try:
                result.blob_bytes += installation.blobs.size(digest)
            except FileNotFoundError:
                continue  # removed meanwhile
            result.blobs += 1
            continue
        freed = installation.blobs.collect(digest, older_than,
                                           partial(is_referenced, installation, digest))
        if freed or not installation.blobs.exists(digest):
            result.blobs += 1
            result.blob_bytes += freed
        else:
            result.kept += 1
    for name, changed in list(installation.blobs.temporary_uploads()):
        if changed < older_than:
            result.temporary_files += 1
            if not dry_run:
                installation.blobs.remove_temporary(name)
    # thumbnails of bytes no event references, and the least recently used past the cache's cap
    pruned = thumbnails.prune(installation, referenced, older_than, dry_run)
    result.thumbnails, result.thumbnail_bytes = pruned.files, pruned.bytes
    return result
