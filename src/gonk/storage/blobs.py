"""Content-addressed blob storage: bytes stored once under their sha256, never rewritten.

A blob is written to a temporary name, flushed to disk, renamed into place and its directory
flushed, all before the transaction that references it commits. A blob that no committed event
references is garbage, not corruption (`gonk-api gc` removes it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 1024 * 1024


class BlobTooLarge(Exception):
    """A streamed body went past its limit; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StoredBlob:
    digest: str
    size: int


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store `data` durably; return its sha256 hex digest."""

    def put_stream(self, chunks: Iterable[bytes], max_bytes: int | None = None) -> StoredBlob:
        """Store a stream durably without holding it in memory."""

    def get(self, digest: str) -> bytes: ...

    def exists(self, digest: str) -> bool: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalBlobStore:
    """Blobs as files: <root>/<first two hex digits>/<sha256>, in 256 directories made once by
    `create` (so no upload pays for making and flushing a directory); uploads in progress live in
    <root>/tmp. One level, as git does: ext4 and XFS index large directories, and 256 of them
    hold a hundred million blobs at about 400,000 each."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def create(self) -> None:
        _make_directories(self.tmp)
        for prefix in range(256):
            (self.root / f"{prefix:02x}").mkdir(exist_ok=True)
        _fsync_dir(self.root)  # one flush makes all 256 new entries durable

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        if not self._reuse(self.path(digest)):
            self.put_stream([data])
        return digest

    @staticmethod
    def _reuse(final: Path) -> bool:
        """True if the blob is already stored. Its modification time is refreshed, so that
        `gonk-api gc` (which only collects old blobs, and checks the time again after moving a
        blob aside) never removes a blob a write is about to reference."""
        try:
            os.utime(final)
        except FileNotFoundError:
            return False
        return True

    def put_stream(self, chunks: Iterable[bytes], max_bytes: int | None = None) -> StoredBlob:
        """Hash while writing to a temporary file, flush, rename into place. Raises BlobTooLarge
        past `max_bytes`, leaving nothing behind."""
        tmp_name = self.tmp / f"upload-{uuid.uuid4().hex}"
        try:
            fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:  # no temporary directory yet (or it was removed by hand)
            self.tmp.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        hasher, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLarge(max_bytes)
                    hasher.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            digest = hasher.hexdigest()
            final = self.path(digest)
            if self._reuse(final):  # the same bytes are already stored: keep the first copy
                os.unlink(tmp_name)
                return StoredBlob(digest, size)
            try:
                os.replace(tmp_name, final)
            except FileNotFoundError:  # the first blob under this prefix
                _make_directories(final.parent)
                os.replace(tmp_name, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        _fsync_dir(final.parent)
        return StoredBlob(digest, size)

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def all_blobs(self) -> Iterator[tuple[str, float]]:
        """Every stored blob's digest with its modification time (for garbage collection)."""
        for path in self.root.glob("[0-9a-f][0-9a-f]/*"):
            if len(path.name) == 64:
                yield path.name, path.stat().st_mtime

    def temporary_files(self) -> Iterator[tuple[Path, float]]:
        """Leftovers of interrupted uploads, with their modification times."""
        if self.tmp.is_dir():
            for path in self.tmp.iterdir():
                yield path, path.stat().st_mtime

    def restore_set_aside(self) -> int:
        """Put back blobs that a garbage collection moved aside and did not finish with (it was
        killed): they are decided on again, from scratch. Returns how many were put back."""
        restored = 0
        for path, _ in list(self.temporary_files()):
            digest = path.name.removeprefix("gc-")
            if path.name.startswith("gc-") and len(digest) == 64:
                final = self.path(digest)
                _make_directories(final.parent)
                os.replace(path, final)
                restored += 1
        return restored

    def collect(self, digest: str, older_than: float, is_referenced: Callable[[], bool]) -> int:
        """Remove a blob if it is older than `older_than` (a timestamp) and `is_referenced()`,
        asked after the blob was moved aside, says no. Returns the bytes freed (0 if kept).

        A concurrent write that reuses the blob either refreshes its time before the move (seen
        here, so the blob is put back) or finds it gone and writes it again."""
        final = self.path(digest)
        aside = self.tmp / f"gc-{digest}"
        try:
            if final.stat().st_mtime >= older_than:
                return 0
            os.replace(final, aside)
        except FileNotFoundError:
            return 0
        stat = aside.stat()
        if stat.st_mtime >= older_than or is_referenced():
            os.replace(aside, final)
            return 0
        aside.unlink()
        return stat.st_size


def _make_directories(directory: Path) -> None:
    """Create a directory and its missing parents, each made durable in its own parent (a new
    directory's entry is a change to its parent, flushed like any other)."""
    if directory.is_dir():
        return
    _make_directories(directory.parent)
    try:
        directory.mkdir()
    except FileExistsError:  # made meanwhile by a concurrent upload
        return
    _fsync_dir(directory.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
