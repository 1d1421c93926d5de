"""Blobs as files in a local directory (LocalBlobStore): <root>/<ab>/<sha256>, uploads in
progress and blobs set aside by garbage collection in <root>/tmp."""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ...domain.errors import InsufficientStorage
from .store import (
    UPLOAD_PREFIX,
    BlobStat,
    BlobStoreUnavailable,
    ChunkStream,
    MeasuredStream,
    StoredBlob,
    check_range,
    is_digest,
    sha256_hex,
)


class LocalBlobStore:
    """Blobs as files: <root>/<first two hex digits>/<sha256>, in 256 directories made once by
    `create` (so no upload pays for making and flushing a directory); uploads in progress live in
    <root>/tmp. One level, as git does: ext4 and XFS index large directories, and 256 of them
    hold a hundred million blobs at about 400,000 each."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._root_text = str(self.root)  # (for reads that skip pathlib's per-call cost)
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

    def ping(self) -> None:
        """The blob directory is there and writable (a permission check: nothing is written)."""
        if not (self.root.is_dir() and os.access(self.root, os.W_OK | os.X_OK)):
            raise BlobStoreUnavailable(f"The blob directory {self.root} is missing or not "
                                       "writable.")

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
        with self._writing():
            reused = self._reuse(self.path(digest))
        if not reused:
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
        past `max_bytes`, InsufficientStorage when the disk (or quota) is full and
        BlobStoreUnavailable when the directory cannot be written (read-only, I/O error,
        permissions), leaving nothing behind: the temporary file is removed, and nothing ever
        reaches a blob's final name but a complete, flushed file."""
        with self._writing():
            return self._put_stream(chunks, max_bytes)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """The operating system's refusals of a write, as a request answers them: a full disk
        or quota is InsufficientStorage (507); a read-only, failing or forbidden directory
        BlobStoreUnavailable (503)."""
        try:
            yield
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage("blob store") from exc
            if exc.errno in (errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM):
                raise BlobStoreUnavailable(f"Cannot write blobs in {self.root}: "
                                           f"{exc.strerror or exc}.") from exc
            raise

    def _present(self) -> None:
        """BlobStoreUnavailable unless the blob directory is there. A directory that went away
        (an unmounted volume, a rename) is never made anew behind the operator's back: blobs
        written into a fresh one would be missing once the real one is back."""
        if not self.root.is_dir():
            raise BlobStoreUnavailable(f"The blob directory {self.root} is missing.")

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """A blob that cannot be found because the whole blob directory is gone is the store
        being unavailable (503), not a missing blob."""
        try:
            yield
        except FileNotFoundError:
            self._present()
            raise

    def _put_stream(self, chunks: Iterable[bytes], max_bytes: int | None) -> StoredBlob:
        tmp_name = self.tmp / f"{UPLOAD_PREFIX}{uuid.uuid4().hex}"
        try:
            fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:  # no temporary directory yet (or it was removed by hand)
            self._present()
            self.tmp.mkdir(exist_ok=True)
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
                self._present()
                _make_directories(final.parent)
                os.replace(tmp_name, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        _fsync_dir(final.parent)
        return blob

    def get(self, digest: str) -> bytes:
        return self.head(digest, -1)

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.stat(digest).size

    def stat(self, digest: str) -> BlobStat:
        with self._reading():
            info = self.path(digest).stat()
        return BlobStat(info.st_size, info.st_mtime)

    def read_range(self, digest: str, start: int, end_inclusive: int) -> ChunkStream:
        """The file is opened at once (so a missing blob raises FileNotFoundError here, not
        midway through a response) and closed when the stream ends or is closed."""
        check_range(start)
        with self._reading():
            handle = self.path(digest).open("rb")
        handle.seek(start)
        return ChunkStream(handle.read, max(0, end_inclusive - start + 1), handle.close)

    def head(self, digest: str, size: int) -> bytes:
        """The first `size` bytes (-1: all of them), read without pathlib's per-call cost:
        an export reads a header or a document of every item."""
        if not is_digest(digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        with self._reading():
            handle = open(os.path.join(self._root_text, digest[:2], digest), "rb")  # noqa: SIM115
        with handle:
            return handle.read(size) if size != 0 else b""

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
        try:
            keep = stat.st_mtime >= older_than or is_referenced()
        except BaseException:  # the database failed mid-question: put the blob back, then say so
            os.replace(aside, final)
            raise
        if keep:
            os.replace(aside, final)
            return 0
        aside.unlink()
        return stat.st_size


_ASIDE_PREFIX = "gc-"  # <root>/tmp/gc-<digest>: a blob garbage collection moved aside


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
