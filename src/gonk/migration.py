"""`gonk-api migrate`: bring an existing installation up to this version of Gonk.

- The database schema, through Alembic (storage/schema.py), in one transaction.
- A local blob directory from the two-level layout of early builds (blobs/ab/cd/<sha256>) to
  the current one (blobs/ab/<sha256>): each file is renamed, never copied, so no byte moves.
Running it again does nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .instance import Instance, NotInitialised, StorageError
from .storage import schema


def migrate_installation(instance: Instance) -> Iterator[str]:
    state = instance.schema_status()
    if state == schema.EMPTY:
        raise NotInitialised(instance.where())
    if state == schema.NEWER:
        raise StorageError(f"The database at {instance.where()} was made by a newer Gonk; "
                           "nothing was changed.")
    instance.check_blobs()
    before, after = schema.upgrade(instance.db)
    if before == after:
        yield f"Database schema: already at revision {after}."
    else:
        yield f"Database schema: upgraded from {before or 'unversioned'} to revision {after}."
    root = getattr(instance.blobs, "root", None)
    if isinstance(root, Path) and instance.blobs.local_path("0" * 64) is not None:
        instance.blobs.create()
        moved = _flatten_legacy_layout(root)
        if moved:
            yield f"Blob files: moved {moved} files to the current layout (blobs/ab/<sha256>)."
        else:
            yield "Blob files: already in the current layout."


def _flatten_legacy_layout(root: Path) -> int:
    moved = 0
    for legacy in root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*"):
        if len(legacy.name) == 64 and legacy.is_file():
            os.replace(legacy, root / legacy.name[:2] / legacy.name)
            moved += 1
    for directory in root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]"):
        with contextlib.suppress(OSError):
            directory.rmdir()
    if moved:
        for prefix in root.glob("[0-9a-f][0-9a-f]"):
            fd = os.open(prefix, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    return moved
