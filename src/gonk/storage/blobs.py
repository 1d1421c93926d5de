"""Content-addressed blob storage: bytes stored under their sha256, so a blob never changes.

Two stores share one interface (BlobStore): LocalBlobStore keeps blobs as files in a directory,
S3BlobStore (storage/s3blobs.py) as objects in an S3-compatible bucket. `open_blob_store` picks
one from a URL. Either way a blob is durably stored before the transaction that references it
commits. A blob that no committed event references is garbage, not corruption (`gonk-api gc`
removes it, through `collect`, which never removes a blob that a committed event references).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

CHUNK = 1024 * 1024
UPLOAD_PREFIX = "upload-"  # temporary uploads are named upload-<uuid> in both stores


class BlobTooLarge(Exception):
    """A streamed body went past its limit; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class BlobStoreUnavailable(Exception):
    """The blob store cannot be reached or used (missing bucket, refused credentials, endpoint
    down, directory not writable). The message is one line a person can act on."""


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


def open_blob_store(url: str | None, data_dir: Path) -> BlobStore:
    """The blob store a URL names:

    - None or "": files under <data_dir>/blobs (the default);
    - file:///absolute/path: files under that directory;
    - s3://bucket or s3://bucket/prefix: objects in an S3-compatible bucket, through boto3, which
      takes the endpoint, credentials and region from the standard AWS_* environment variables
      (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION) or its
      configuration files.

    Raises ValueError for any other URL, BlobStoreUnavailable if boto3 is not installed. Nothing
    is contacted here: `check()` does that."""
    if not url:
        return LocalBlobStore(Path(data_dir) / "blobs")
    parts = urlsplit(url)
    plain = not (parts.query or parts.fragment)
    if parts.scheme == "file" and plain and parts.netloc in ("", "localhost") \
            and parts.path.startswith("/"):
        return LocalBlobStore(Path(unquote(parts.path)))
    if parts.scheme == "s3" and plain and _BUCKET_NAME.fullmatch(parts.netloc):
        return _s3_store(parts.netloc, unquote(parts.path).strip("/"))
    raise ValueError(f"Unsupported blob store URL {url!r}: use file:///absolute/path or "
                     "s3://bucket/optional/prefix (or nothing, for <data dir>/blobs).")


_BUCKET_NAME = re.compile(r"[A-Za-z0-9._-]+")  # lenient: legacy AWS and other providers' names


def _s3_store(bucket: str, prefix: str) -> BlobStore:
    """An S3BlobStore, importing boto3 only when an s3:// URL asks for it."""
    try:
        from .s3blobs import S3BlobStore
    except ModuleNotFoundError as exc:
        if exc.name not in ("boto3", "botocore", "s3transfer"):
            raise
        raise BlobStoreUnavailable("S3 blob storage needs boto3, which is not installed: "
                                   "pip install 'gonk[s3]'.") from None
    return S3BlobStore(bucket, prefix)


def is_digest(text: str) -> bool:
    """A sha256 hex digest as Gonk writes them: 64 lowercase hex characters."""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


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

    def check(self) -> None:
        """The directory must be writable (or, before `create`, creatable): a probe file is
        written and removed. Nothing else is created."""
        if not self.root.exists():
            ancestor = next(p for p in self.root.parents if p.exists())
            if not (ancestor.is_dir() and os.access(ancestor, os.W_OK | os.X_OK)):
                raise BlobStoreUnavailable(f"Cannot create the blob directory {self.root}: "
                                           f"{ancestor} is not a writable directory.")
            return
        where = self.tmp if self.tmp.is_dir() else self.root
        probe = where / f"{UPLOAD_PREFIX}check-{uuid.uuid4().hex}"
        try:
            probe.touch(exist_ok=False)
            probe.unlink()
        except OSError as exc:
            raise BlobStoreUnavailable(f"Cannot write blobs in {where}: "
                                       f"{exc.strerror or exc}.") from None

    def describe(self) -> str:
        return f"files in {self.root}"

    def path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest

    def local_path(self, digest: str) -> Path | None:
        return self.path(digest)

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
        tmp_name = self.tmp / f"{UPLOAD_PREFIX}{uuid.uuid4().hex}"
        try:
            fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:  # no temporary directory yet (or it was removed by hand)
            self.tmp.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        measured = MeasuredStream(max_bytes)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    measured.add(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            blob = measured.stored()
            final = self.path(blob.digest)
            if self._reuse(final):  # the same bytes are already stored: keep the first copy
                os.unlink(tmp_name)
                return blob
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
        return blob

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def stat(self, digest: str) -> BlobStat:
        info = self.path(digest).stat()
        return BlobStat(info.st_size, info.st_mtime)

    def read_range(self, digest: str, start: int, end_inclusive: int) -> ChunkStream:
        """The file is opened at once (so a missing blob raises FileNotFoundError here, not
        midway through a response) and closed when the stream ends or is closed."""
        check_range(start)
        handle = self.path(digest).open("rb")
        handle.seek(start)
        return ChunkStream(handle.read, max(0, end_inclusive - start + 1), handle.close)

    def all_blobs(self) -> Iterator[tuple[str, float]]:
        for path in self.root.glob("[0-9a-f][0-9a-f]/*"):
            if is_digest(path.name):
                with contextlib.suppress(FileNotFoundError):  # collected meanwhile
                    yield path.name, path.stat().st_mtime

    def temporary_uploads(self) -> Iterator[tuple[str, float]]:
        """Files of uploads that never finished (the process died mid-upload), named by their
        file name. Their time changes with every write, so an upload in progress stays young."""
        for path in self._tmp_entries():
            if path.name.startswith(UPLOAD_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    yield path.name, path.stat().st_mtime

    def remove_temporary(self, name: str) -> None:
        if not name.startswith(UPLOAD_PREFIX) or "/" in name or os.sep in name:
            raise ValueError(f"not a temporary upload: {name!r}")
        (self.tmp / name).unlink(missing_ok=True)

    def _tmp_entries(self) -> list[Path]:
        return list(self.tmp.iterdir()) if self.tmp.is_dir() else []

    def restore_set_aside(self) -> int:
        """Put back blobs that a garbage collection moved aside and did not finish with (it was
        killed): they are decided on again, from scratch. Returns how many were put back."""
        restored = 0
        for path in self._tmp_entries():
            digest = path.name.removeprefix(_ASIDE_PREFIX)
            if path.name.startswith(_ASIDE_PREFIX) and is_digest(digest):
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
        aside = self.tmp / f"{_ASIDE_PREFIX}{digest}"
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


_ASIDE_PREFIX = "gc-"  # <root>/tmp/gc-<digest>: a blob garbage collection moved aside


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
