"""Storage failures at the edges: a garbage collection interrupted by the database puts the blob
back, a read-only blob directory is 503 even for bytes already stored, a mistake in SQL is a bug
(500) rather than an outage (503), and the mimetype guess does not excuse broken UTF-8 at the
end of a whole (short) file."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from gonk.domain import content_types
from gonk.installation import Installation
from gonk.storage.blobs import BlobStore, BlobStoreUnavailable, LocalBlobStore, local
from gonk.storage.blobs.s3 import S3BlobStore
from gonk.storage.database import DatabaseUnavailable


@pytest.fixture(params=["files", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "files":
        made: BlobStore = LocalBlobStore(tmp_path / "blobs")
    else:
        made = S3BlobStore(request.getfixturevalue("bucket"), "failures")
    made.create()
    return made


def test_a_gc_interrupted_by_the_database_puts_the_blob_back(store: BlobStore) -> None:
    digest = store.put(b"a referenced blob")

    def database_gone() -> bool:
        raise DatabaseUnavailable("connection refused")

    with pytest.raises(DatabaseUnavailable):
        store.collect(digest, time.time() + 3600, database_gone)
    assert store.exists(digest)
    assert store.get(digest) == b"a referenced blob"


def test_a_read_only_blob_directory_is_503_for_bytes_already_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.create()
    store.put(b"stored before")

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(local.os, "utime", read_only)
    with pytest.raises(BlobStoreUnavailable, match="Read-only"):
        store.put(b"stored before")


def test_a_mistake_in_sql_is_a_bug_not_an_outage(installation: Installation) -> None:
    with pytest.raises(Exception) as raised:  # noqa: PT011 (any driver error but an outage)
        with installation.db.read() as conn:
            conn.exec_driver_sql("SELECT no_such_column FROM users")
    assert not isinstance(raised.value, DatabaseUnavailable), raised.value


@pytest.mark.parametrize(("head", "expected"), [
    (b"hello\xff", content_types.OCTET_STREAM),  # the whole file: broken at its end
    (b"a" * (content_types.HEAD_BYTES - 1) + b"\xe2", content_types.TEXT),  # a cut-off prefix
])
def test_broken_utf8_at_the_end(head: bytes, expected: str) -> None:
    assert content_types.guess(head, "notes") == expected
