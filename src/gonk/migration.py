"""`gonk-api migrate`: bring an existing installation up to this version of Gonk.

- The database's tables, through Alembic (storage/revision.py), in one transaction.
- A local blob directory from the two-level layout of early builds (blobs/ab/cd/<sha256>) to
  the current one (blobs/ab/<sha256>): each file is renamed, never copied, so no byte moves.
Running it again does nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .installation import Installation, NotInitialised, StorageError
from .storage import revision
from .storage.database import DatabaseUnavailable


def migrate_installation(installation: Installation) -> Iterator[str]:
    state = installation.revision_status()
    if state == revision.EMPTY:
        raise NotInitialised(installation.where())
    if state == revision.NEWER:
        raise StorageError(f"The database at {installation.where()} was made by a newer Gonk; "
                           "nothing was changed.")
    installation.check_blobs()
    try:
        before, after = revision.upgrade(installation.db)
    except DatabaseUnavailable as exc:
        raise StorageError(f"Cannot upgrade the database at {installation.where()}: "
                           f"{exc}") from None
    if before == after:
        yield f"Database schema: already at revision {after}."
    else:
        yield f"Database schema: upgraded from {before or 'unversioned'} to revision {after}."
    root = getattr(installation.blobs, "root", None)
    if isinstance(root, Path) and installation.blobs.local_path("0" * 64) is not None:
        installation.blobs.create()
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
