"""The local blob store's layout and durability steps, on real files."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from gonk.storage.blobs import BlobTooLarge, LocalBlobStore


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
    """A prefix or temporary directory removed by hand (or a store never `create`d) does not
    break uploads."""
    store = LocalBlobStore(tmp_path / "blobs")
    data = b"no directories yet"
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
