"""The local blob store's layout and durability steps, on real files."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from gonk.storage.blobs import CHUNK, BlobStoreUnavailable, BlobTooLarge
from gonk.storage.blobs.local import LocalBlobStore


def test_create_makes_every_prefix_directory_once(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.create()
    prefixes = sorted(p.name for p in (tmp_path / "blobs").iterdir() if p.name != "tmp")
    assert prefixes == [f"{i:02x}" for i in range(256)]
    assert (tmp_path / "blobs" / "tmp").is_dir()


def test_blob_lands_under_its_prefix_named_by_its_hash(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.create()
    data = b"some bytes"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "blobs" / digest[:2] / digest).read_bytes() == data
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_missing_directories_are_made_again(tmp_path: Path) -> None:
    """A prefix or temporary directory removed by hand does not break uploads; a blob directory
    that is not there at all (a volume not mounted, a store never `create`d) is never made
    anew: the store is unavailable, and nothing is written."""
    store = LocalBlobStore(tmp_path / "blobs")
    data = b"no directories yet"
    with pytest.raises(BlobStoreUnavailable, match="missing"):
        store.put(data)
    assert not store.root.exists()
    store.root.mkdir()
    digest = store.put(data)
    assert store.get(digest) == data
    shutil.rmtree(tmp_path / "blobs" / digest[:2])
    shutil.rmtree(tmp_path / "blobs" / "tmp")
    assert store.put(data) == digest
    assert store.get(digest) == data


def test_same_bytes_are_stored_once(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.create()
    first = store.put_stream([b"ab", b"cd"])
    second = store.put_stream([b"a", b"bcd"])
    assert first == second
    assert [p.name for p in store.root.glob("??/*")] == [first.digest]


def test_too_large_stream_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.create()
    with pytest.raises(BlobTooLarge):
        store.put_stream([b"x" * 10, b"y" * 10], max_bytes=15)
    assert list(store.root.glob("??/*")) == []
    assert list((store.root / "tmp").iterdir()) == []


# --- the BlobStore interface, as LocalBlobStore implements it -----------------------------------


def test_reading_sizes_and_ranges(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.create()
    data = bytes(range(256)) * (4096 * 3) + b"tail"  # 3 MiB and 4 bytes
    digest = store.put(data)
    assert store.local_path(digest) == tmp_path / "blobs" / digest[:2] / digest
    assert store.size(digest) == store.stat(digest).size == len(data)
    assert store.stat(digest).modified == store.path(digest).stat().st_mtime
    chunks = list(store.read_range(digest, 0, len(data) - 1))
    assert b"".join(chunks) == data
    assert [len(c) for c in chunks] == [CHUNK, CHUNK, CHUNK, 4]
    assert b"".join(store.read_range(digest, 10, 19)) == data[10:20]
    assert b"".join(store.read_range(digest, len(data) - 2, len(data) + 50)) == data[-2:]
    assert b"".join(store.read_range(digest, len(data) + 5, len(data) + 9)) == b""
    assert b"".join(store.read_range(digest, 4, 3)) == b""
    stream = store.read_range(digest, 0, len(data) - 1)
    next(stream)
    stream.close()  # a client gone midway: the file is closed, nothing more comes
    assert list(stream) == []
    with pytest.raises(ValueError):
        store.read_range(digest, -1, 3)
    missing = "0" * 64
    with pytest.raises(FileNotFoundError):
        store.read_range(missing, 0, 1)  # at the call, before any chunk is asked for
    with pytest.raises(FileNotFoundError):
        store.stat(missing)
    assert store.describe() == f"files in {tmp_path / 'blobs'}"
    assert store.head(digest, 10) == data[:10]  # (an image's header, for label exports)
    assert store.head(digest, len(data) + 9) == data == store.get(digest)
    assert store.head(digest, 0) == b""
    with pytest.raises(FileNotFoundError):
        store.head(missing, 10)


def test_temporary_uploads_are_listed_and_removed_by_name(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.create()
    assert list(store.temporary_uploads()) == []
    (store.tmp / "upload-killed").write_bytes(b"half")
    (store.tmp / f"gc-{'a' * 64}").write_bytes(b"set aside by gc: not an upload")
    listed = dict(store.temporary_uploads())
    assert list(listed) == ["upload-killed"]
    assert listed["upload-killed"] == (store.tmp / "upload-killed").stat().st_mtime
    store.remove_temporary("upload-killed")
    store.remove_temporary("upload-killed")  # gone already: fine
    assert list(store.temporary_uploads()) == []
    for bad in ("../upload-x", "upload-x/../../y", "gc-" + "a" * 64, "blobs"):
        with pytest.raises(ValueError):
            store.remove_temporary(bad)
    shutil.rmtree(store.tmp)
    assert list(store.temporary_uploads()) == []


def test_check_passes_on_a_writable_directory_and_leaves_nothing(tmp_path: Path) -> None:
    LocalBlobStore(tmp_path / "not" / "made" / "yet").check()  # creatable: fine, nothing made
    assert list(tmp_path.iterdir()) == []
    store = LocalBlobStore(tmp_path / "blobs")
    store.create()
    store.check()
    assert list(store.tmp.iterdir()) == []


def test_check_reports_a_directory_that_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    for root in (tmp_path / "a-file", tmp_path / "a-file" / "blobs"):
        with pytest.raises(BlobStoreUnavailable) as failed:
            LocalBlobStore(root).check()
        assert str(tmp_path / "a-file") in str(failed.value)
        assert "\n" not in str(failed.value)
