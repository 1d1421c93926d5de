"""`Release.pull` and `Release.samples` through the content-addressed cache, against a live
server (SQLite and local files): a pull writes what `gonk-api export --url` writes, file for
file; a second pull downloads no bytes; a corrupted cached file is downloaded again; a pull is
right whatever other revisions the cache holds; bytes that do not match are never kept."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import gonk
from gonk.client import Dataset
from tests.client.conftest import make_client, requests_seen
from tests.support import processes
from tests.support.http import LABEL_SCHEMA

pytestmark = pytest.mark.xdist_group("client")

OBJECTS = {"cat.jpg": b"\xff\xd8\xff cat v0", "sub/dog.png": b"\x89PNG dog",
           "../escape.txt": b"outside?", "CAT.JPG": b"another cat", "big.bin": os.urandom(300_000)}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _byte_requests(seen: list[tuple[str, str]]) -> list[str]:
    return [path for _, path in seen if path.endswith("/bytes") or path.endswith("/manifest")]


@pytest.fixture(scope="module")
def released(site: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A dataset with v1 (five objects, a schema, two annotations) and v2 (cat.jpg changed)."""
    with make_client(site.base, site.key, tmp_path_factory.mktemp("unused-cache")) as client:
        ds = client.dataset("pulled").create()
        ds.schemas.create("schema-label", LABEL_SCHEMA)
        uuids = {name: ds.upload(data, name).uuid for name, data in OBJECTS.items()}
        for change in ds.pending():
            ds.accept(change)
        ds.annotations.create("schema-label", 0, [(uuids["cat.jpg"], 0)], {"label": "cat"})
        ds.annotations.create("schema-label", 0, [(uuids["sub/dog.png"], 0)], {"label": "dog"})
        for change in ds.pending():
            ds.accept(change)
        ds.releases.create("v1")
        ds.objects.update(uuids["cat.jpg"], b"\xff\xd8\xff cat v1")
        for change in ds.pending():
            ds.accept(change)
        ds.releases.create("v2")
    return SimpleNamespace(name="pulled", uuids=uuids)


def test_a_pull_writes_the_export_then_a_warm_cache_downloads_nothing(
        site: SimpleNamespace, released: SimpleNamespace, client: gonk.Client,
        tmp_path: Path) -> None:
    exported = tmp_path / "exported"
    done = processes.run_cli("export", released.name, "--release", "v1", "--out", exported,
                             "--url", site.base, "--key", site.key)
    assert done.returncode == 0, done.stderr
    release = client.dataset(released.name).release("v1")

    seen = requests_seen(client)
    cold = release.pull(tmp_path / "cold")
    assert _tree(tmp_path / "cold") == _tree(exported)  # the same files, byte for byte
    assert (cold.written, cold.skipped, cold.annotations) == (6, 0, 2)  # 5 objects, 1 schema
    assert (cold.downloaded, cold.from_cache) == (8, 0)  # and 2 annotation documents
    assert cold.downloaded_bytes == sum(len(d) for d in OBJECTS.values()) + len(
        json.dumps(LABEL_SCHEMA)) + 2 * len('{"label": "cat"}')
    assert len(cold.renamed) == 2  # ../escape.txt and CAT.JPG
    assert len(_byte_requests(seen)) == 9  # the manifest, then each version once

    seen.clear()
    warm = release.pull(tmp_path / "warm")
    assert _tree(tmp_path / "warm") == _tree(exported)
    assert (warm.downloaded, warm.from_cache, warm.written) == (0, 8, 6)
    assert _byte_requests(seen) == [] and len(seen) == 1  # the release itself, nothing else

    seen.clear()
    again = release.pull(tmp_path / "warm")  # a finished pull, run again: nothing to do
    assert (again.written, again.skipped, again.downloaded) == (0, 6, 0)
    assert _byte_requests(seen) == []


def test_a_corrupted_cached_file_is_downloaded_again(released: SimpleNamespace,
                                                     client: gonk.Client,
                                                     tmp_path: Path) -> None:
    release = client.dataset(released.name).release("v1")
    release.pull(tmp_path / "first")
    big = hashlib.sha256(OBJECTS["big.bin"]).hexdigest()
    cached = client.cache.path(big)
    assert cached.read_bytes() == OBJECTS["big.bin"]
    cached.write_bytes(b"rotten" + OBJECTS["big.bin"][6:])  # the same size, other bytes

    seen = requests_seen(client)
    done = release.pull(tmp_path / "second")
    assert (done.downloaded, done.from_cache) == (1, 7)
    assert _byte_requests(seen) == [
        f"/datasets/{released.name}/objects/{released.uuids['big.bin']}/0/bytes"]
    assert (tmp_path / "second" / "objects" / "big.bin").read_bytes() == OBJECTS["big.bin"]
    assert cached.read_bytes() == OBJECTS["big.bin"]
    cached.write_bytes(b"short")  # truncated: found by its size
    assert release.pull(tmp_path / "third").downloaded == 1


def test_a_pull_is_right_whatever_other_revisions_the_cache_holds(
        site: SimpleNamespace, released: SimpleNamespace, client: gonk.Client,
        tmp_path: Path) -> None:
    ds = client.dataset(released.name)
    ds.release("v1").pull(tmp_path / "pulled")
    v2 = ds.release("v2").pull(tmp_path / "pulled")  # over v1's files, from a warm cache
    assert (v2.downloaded, v2.written) == (1, 1)  # only cat.jpg's new bytes
    pulled = tmp_path / "pulled"
    assert (pulled / "objects" / "cat.jpg").read_bytes() == b"\xff\xd8\xff cat v1"
    exported = tmp_path / "exported-v2"
    done = processes.run_cli("export", released.name, "--release", "v2", "--out", exported,
                             "--url", site.base, "--key", site.key)
    assert done.returncode == 0, done.stderr
    assert _tree(pulled) == _tree(exported)
    ds.release("v1").pull(tmp_path / "pulled")  # and back: v1's cat.jpg again, from the cache
    assert (pulled / "objects" / "cat.jpg").read_bytes() == OBJECTS["cat.jpg"]


def test_bytes_that_do_not_match_are_never_kept(released: SimpleNamespace,
                                                client: gonk.Client, tmp_path: Path) -> None:
    def corrupt(response: Any, *args: Any, **kwargs: Any) -> Any:
        if response.request.url.split("?")[0].endswith(
                f"{released.uuids['sub/dog.png']}/0/bytes"):
            response._content = b"\x89PNG cat"  # the same size, other bytes
            response._content_consumed = True
        return response

    client.http.session.hooks["response"].append(corrupt)
    with pytest.raises(gonk.IntegrityError, match="nothing was kept"):
        client.dataset(released.name).release("v1").pull(tmp_path / "out")
    assert client.cache.get(hashlib.sha256(OBJECTS["sub/dog.png"]).hexdigest()) is None
    assert not client.cache.path(hashlib.sha256(b"\x89PNG cat").hexdigest()).exists()
    assert list((client.cache.root / "tmp").iterdir()) == []
    assert not (tmp_path / "out" / "objects" / "sub" / "dog.png").exists()
    assert not (tmp_path / "out" / "manifest.jsonl").exists()
    with pytest.raises(gonk.IntegrityError):
        client.dataset(released.name).download(released.uuids["sub/dog.png"], 0,
                                               tmp_path / "dog.png")
    assert not (tmp_path / "dog.png").exists() and list(tmp_path.glob(".dog.png*")) == []

    def no_etag(response: Any, *args: Any, **kwargs: Any) -> Any:
        response.headers.pop("ETag", None)  # as a proxy might: the metadata's sha256 is used
        return response

    client.http.session.hooks["response"].append(no_etag)
    objects = client.dataset(released.name).objects
    with pytest.raises(gonk.IntegrityError):
        objects.read(released.uuids["sub/dog.png"], 0)
    assert objects.read(released.uuids["cat.jpg"], 0) == OBJECTS["cat.jpg"]


def test_samples_give_local_files_and_their_annotations(released: SimpleNamespace,
                                                       client: gonk.Client,
                                                       tmp_path: Path) -> None:
    release = client.dataset(released.name).release("v1")
    samples = {s.name: s for s in release.samples()}
    assert set(samples) == set(OBJECTS)
    for name, sample in samples.items():
        assert sample.path.read_bytes() == OBJECTS[name]
        assert sample.path.is_relative_to(client.cache.root)
    assert [(a.schema, a.document) for a in samples["cat.jpg"].annotations] == [
        ("schema-label", {"label": "cat"})]
    assert samples["big.bin"].annotations == []
    into = {s.name: s for s in release.samples(tmp_path / "release")}
    assert into["cat.jpg"].path == tmp_path / "release" / "objects" / "cat.jpg"
    assert into["CAT.JPG"].path.parent == tmp_path / "release" / "objects" / "_gonk_renamed"
    assert all(s.path.read_bytes() == OBJECTS[name] for name, s in into.items())
    assert [a.document for a in into["sub/dog.png"].annotations] == [{"label": "dog"}]


def test_a_pull_of_an_unknown_release_or_into_a_file(released: SimpleNamespace,
                                                     client: gonk.Client, ds: Dataset,
                                                     tmp_path: Path) -> None:
    with pytest.raises(gonk.NotFound):
        ds.release("v1").pull(tmp_path / "none")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(gonk.ExportFailed, match="not a folder"):
        client.dataset(released.name).release("v1").pull(tmp_path / "a-file")
