"""The blob store interface: what Gonk needs from a place that keeps bytes under their sha256.

Bytes are stored under their sha256, so a blob never changes. The stores (LocalBlobStore in
storage/blobs/local.py, S3BlobStore in storage/blobs/s3.py) implement BlobStore and share the
helpers here: the errors, MeasuredStream (the size limit and hash of a streamed body) and
ChunkStream (a byte range read in chunks). This module imports no store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ...domain.errors import Unavailable

CHUNK = 1024 * 1024
UPLOAD_PREFIX = "upload-"  # temporary uploads are named upload-<uuid> in both stores


class BlobTooLarge(Exception):
    """A streamed body went past its limit; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class BlobStoreUnavailable(Unavailable):
    """The blob store cannot be reached or used (missing bucket, refused credentials, endpoint
    down, directory not writable). The message is one line a person can act on; in a request,
    503 (a full disk is domain.errors.InsufficientStorage, 507)."""

    component = "blob store"


@dataclass(frozen=True)
class StoredBlob:
    digest: str
    size: int


class MeasuredStream:
    """Counts and hashes a streamed body chunk by chunk, refusing it past `max_bytes`: the rule
    every store's put_stream applies while it writes the chunks wherever it keeps them."""

    def __init__(self, max_bytes: int | None) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._hasher = hashlib.sha256()

    def add(self, chunk: bytes) -> None:
        """Count and hash `chunk`; BlobTooLarge if the body is now past its limit."""
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise BlobTooLarge(self.max_bytes)
        self._hasher.update(chunk)

    def stored(self) -> StoredBlob:
        return StoredBlob(self._hasher.hexdigest(), self.size)


@dataclass(frozen=True)
class BlobStat:
    """A stored blob's size in bytes and its modification time (a Unix timestamp)."""

    size: int
    modified: float


class BlobStore(Protocol):
    """What Gonk needs from a place that keeps bytes under their sha256 hex digest.

    Missing blobs raise FileNotFoundError (from get, size, stat, read_range) whichever the store,
    so callers handle both alike."""

    def create(self) -> None:
        """Prepare an empty store (idempotent)."""

    def check(self) -> None:
        """Raise BlobStoreUnavailable if the store cannot be reached or written to."""

    def ping(self) -> None:
        """Cheaply ask whether the store answers (for GET /health), writing nothing; raise
        BlobStoreUnavailable if not."""

    def describe(self) -> str:
        """Where the bytes live, for people: "files in /path" or "s3://bucket/prefix"."""

    def put(self, data: bytes) -> str:
        """Store `data` durably; return its sha256 hex digest."""

    def put_stream(self, chunks: Iterable[bytes], max_bytes: int | None = None) -> StoredBlob:
        """Store a stream durably without holding it in memory. Past `max_bytes`, raise
        BlobTooLarge and leave nothing behind."""

    def get(self, digest: str) -> bytes:
        """The whole blob (for bodies small enough to hold in memory)."""

    def exists(self, digest: str) -> bool: ...

    def size(self, digest: str) -> int: ...

    def stat(self, digest: str) -> BlobStat: ...

    def local_path(self, digest: str) -> Path | None:
        """The blob's file, if the store keeps blobs as local files (so it can be sent with
        sendfile); None for a remote store."""

    def read_range(self, digest: str, start: int, end_inclusive: int) -> ChunkStream:
        """Bytes start..end_inclusive (clipped to the blob), in chunks of at most CHUNK bytes;
        nothing if end_inclusive < start. A missing blob raises FileNotFoundError at the call,
        before any chunk; close the stream if it is not read to its end."""

    def head(self, digest: str, size: int) -> bytes:
        """The blob's first `size` bytes (all of it if shorter): one read, for headers."""

    def all_blobs(self) -> Iterator[tuple[str, float]]:
        """Every stored blob's digest with its modification time (for garbage collection)."""

    def temporary_uploads(self) -> Iterator[tuple[str, float]]:
        """Leftovers of interrupted uploads: an opaque name and the time it last changed."""

    def remove_temporary(self, name: str) -> None:
        """Remove one leftover named by `temporary_uploads` (gone already is fine)."""

    def restore_set_aside(self) -> int:
        """Put back blobs that a killed garbage collection set aside; return how many."""

    def collect(self, digest: str, older_than: float, is_referenced: Callable[[], bool]) -> int:
        """Remove a blob older than `older_than` that `is_referenced()` says no event references;
        return the bytes freed (0 if kept). Safe against writes racing the collector."""


DIGEST = re.compile(r"[0-9a-f]{64}")


def is_digest(text: str) -> bool:
    """A sha256 hex digest as Gonk writes them: 64 lowercase hex characters."""
    return isinstance(text, str) and DIGEST.fullmatch(text) is not None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_range(start: int) -> None:
    if start < 0:
        raise ValueError(f"a byte range starts at 0 or later, not {start}")


class ChunkStream(Iterator[bytes]):
    """At most `length` bytes from `read`, in chunks of at most CHUNK bytes (fewer if the source
    ends first). `close()` releases the source (a file, an HTTP body) whether or not iteration
    began, as WSGI servers call it when a response ends or the client goes away."""

    def __init__(self, read: Callable[[int], bytes], length: int,
                 close: Callable[[], None]) -> None:
        self._read = read
        self._remaining = length
        self._close = close

    def __next__(self) -> bytes:
        chunk = self._read(min(CHUNK, self._remaining)) if self._remaining > 0 else b""
        if not chunk:
            self.close()
            raise StopIteration
        self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self._remaining = 0
        self._close()
