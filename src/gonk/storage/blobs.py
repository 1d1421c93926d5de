"""Content-addressed blob storage: bytes stored once under their sha256, never rewritten.

A blob is written to a temporary name, flushed to disk, renamed into place and its directory
flushed, all before the transaction that references it commits. A blob that no committed event
references is garbage, not corruption (`gonk-api gc` removes it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
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
    """Blobs as files: <root>/<first two hex digits>/<next two>/<sha256>; uploads in progress
    live in <root>/tmp."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def create(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        if not self.path(digest).exists():
            self.put_stream([data])
        return digest

    def put_stream(self, chunks: Iterable[bytes], max_bytes: int | None = None) -> StoredBlob:
        """Hash while writing to a temporary file, flush, rename into place. Raises BlobTooLarge
        past `max_bytes`, leaving nothing behind."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
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
            if final.exists():  # the same bytes are already stored: keep the first copy
                os.unlink(tmp_name)
                return StoredBlob(digest, size)
            final.parent.mkdir(parents=True, exist_ok=True)
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
        for path in self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*"):
            if len(path.name) == 64:
                yield path.name, path.stat().st_mtime

    def temporary_files(self) -> Iterator[tuple[Path, float]]:
        """Leftovers of interrupted uploads, with their modification times."""
        if self.tmp.is_dir():
            for path in self.tmp.iterdir():
                yield path, path.stat().st_mtime

    def remove(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
