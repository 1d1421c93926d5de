"""`gonk-api migrate`: bring an existing installation up to this version of Gonk.

- The database's tables, through Alembic (storage/revision.py), in one transaction.
- The per-label counts of the annotations already stored (table annotation_labels, revision
  0005), for dataset statistics: Alembic's revisions have no blob store, so once the tables are
  upgraded past 0005, and in the same transaction, each annotation version of a schema that
  declares a label kind has its bytes read once, a batch at a time (stats.fill_labels).
- A local blob directory from the two-level layout of early builds (blobs/ab/cd/<sha256>) to
  the current one (blobs/ab/<sha256>): each file is renamed, never copied, so no byte moves.
- The verifiable log (revision 0010): the revision builds every dataset's Merkle tree; then, in
  the same transaction, the installation's log signing key is made (`log_origin`) and every
  release made before it gets its signed checkpoint (log_signing.py).
Running it again does nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .installation import Installation, NotInitialised, StorageError, chosen_log_origin
from .stats import MissingBytes, fill_labels
from .storage import revision
from .storage.database import Connection, DatabaseUnavailable

LABELS_REVISION = "0005"
"""The revision that made annotation_labels: a database upgraded from before it gets its rows."""


def migrate_installation(installation: Installation,
                         log_origin: str | None = None) -> Iterator[str]:
    """Upgrade, saying what was done, a line at a time. `log_origin`: the log signing key's
    origin if the key is made now (None: log_signing.default_origin)."""
    from . import log_signing

    origin = chosen_log_origin(log_origin)
    state = installation.revision_status()
    if state == revision.EMPTY:
        raise NotInitialised(installation.where())
    if state == revision.NEWER:
        raise StorageError(f"The database at {installation.where()} was made by a newer Gonk; "
                           "nothing was changed.")
    installation.check_blobs()
    # The blob files first: filling the label counts reads annotations' bytes where the current
    # layout has them (moving a file is harmless if the upgrade then fails).
    moved: int | None = None
    root = getattr(installation.blobs, "root", None)
    if isinstance(root, Path) and installation.blobs.local_path("0" * 64) is not None:
        installation.blobs.create()
        moved = _flatten_legacy_layout(root)
    labelled: list[int] = []
    signing: list[tuple[log_signing.LogKey, bool, int]] = []

    def fill(conn: Connection, before: str | None) -> None:
        if revision.older_than(before, LABELS_REVISION):
            labelled.append(fill_labels(installation, conn))
        key, made = log_signing.ensure_key(conn, origin)
        signing.append((key, made, log_signing.sign_release_checkpoints(conn)))

    try:
        before, after = revision.upgrade(installation.db, fill)
    except DatabaseUnavailable as exc:
        raise StorageError(f"Cannot upgrade the database at {installation.where()}: "
                           f"{exc}") from None
    except MissingBytes as exc:
        raise StorageError(f"Cannot count the labels of the annotations already stored: {exc}; "
                           "the database was not changed (`gonk-api verify` names what else is "
                           "wrong).") from None
    if before == after:
        yield f"Database schema: already at revision {after}."
    else:
        yield f"Database schema: upgraded from {before or 'unversioned'} to revision {after}."
    if labelled:
        yield (f"Annotation labels: {labelled[0]} label counts written from the annotations "
               "of label kind schemas.")
    key, made, signed = signing[0]
    if made:
        yield (f"Log signing key: made, origin {key.origin} (`gonk-api log-key` prints the "
               "verifier key).")
    if signed:
        yield f"Releases: {signed} signed checkpoints recorded."
    if moved:
        yield f"Blob files: moved {moved} files to the current layout (blobs/ab/<sha256>)."
    elif moved is not None:
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
