"""`gonk-api gc`: removes stored bytes that no committed event references and leftovers of
interrupted uploads, never a blob that an event references (bytes of rejected and deleted
versions included: history is never destroyed), only files older than --min-age, nothing at all
with --dry-run; and LocalBlobStore.collect's protection against a write racing the collector.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gonk import garbage, service
from gonk.api import create_app
from gonk.installation import Installation
from gonk.storage.blobs.local import LocalBlobStore
from gonk.storage.datasets import get as dataset_row
from gonk.storage.log import event_bodies
from tests.support.http import LABEL_SCHEMA

DATASET = "g"
TWO_HOURS = 2 * 3600
SUMMARY = re.compile(r"(Would remove|Removed) (\d+) unreferenced blobs \((\d+) bytes\) and "
                     r"(\d+) temporary upload files; kept (\d+) blobs\.")


def _events(installation: Installation) -> list[dict[str, Any]]:
    with installation.db.read() as conn:
        return list(event_bodies(conn, dataset_row(conn, DATASET).id))


def _review_last(installation: Installation, accept: bool) -> None:
    service.review(installation, DATASET, "alice", _events(installation)[-1]["uuid"], accept)


def _age(path: Path, seconds: float = TWO_HOURS) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _blob_files(data_dir: Path) -> dict[str, float]:
    """Every blob file (not temporary files) with its modification time."""
    root = data_dir / "blobs"
    return {p.name: p.stat().st_mtime for p in root.glob("??/*") if p.is_file()}


def _referenced(installation: Installation) -> set[str]:
    """Hashes that the log's events reference, read from the events themselves."""
    digests = set()
    for event in _events(installation):
        for key in ("object", "annotation"):
            if key in event:
                digests.add(event[key]["hash"])
    return digests


def _summary(output: str) -> tuple[str, int, int, int, int]:
    match = SUMMARY.search(output)
    assert match, output
    verb, blobs, size, temporary, kept = match.groups()
    return verb, int(blobs), int(size), int(temporary), int(kept)


@pytest.fixture
def site(tmp_path: Path, gonk_proc: Any) -> SimpleNamespace:
    """An installation whose dataset has every kind of history: accepted, rejected, updated
    and deleted objects, a schema updated and deprecated, an annotation updated and deleted;
    plus garbage: bytes stored without a committed event (as an interrupted write leaves them)
    and a stale temporary upload file."""
    data_dir = tmp_path / "gonk-data"
    init = gonk_proc.run_cli("init", "--username", "alice", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    key = gonk_proc.last_line(init.stdout)
    installation = Installation.open(data_dir)
    try:
        service.create_dataset(installation, "alice", DATASET)
        schema = json.dumps(LABEL_SCHEMA).encode()
        service.create_schema(installation, DATASET, "alice", "schema-label", schema)
        _review_last(installation, True)
        kept = service.create_object(installation, DATASET, "alice", "kept.txt", "text/plain",
                                     b"accepted bytes")["uuid"]
        _review_last(installation, True)
        rejected = service.create_object(installation, DATASET, "alice", "rejected.txt",
                                         "text/plain", b"rejected bytes")["uuid"]
        _review_last(installation, False)
        deleted = service.create_object(installation, DATASET, "alice", "deleted.txt",
                                        "text/plain", b"deleted bytes")["uuid"]
        _review_last(installation, True)
        service.delete_object(installation, DATASET, "alice", deleted, 0)
        _review_last(installation, True)
        updated = service.create_object(installation, DATASET, "alice", "updated.txt",
                                        "text/plain", b"first version")["uuid"]
        service.update_object(installation, DATASET, "alice", updated, "updated.txt", "text/plain",
                              b"second version")
        note = service.create_annotation(installation, DATASET, "alice",
                                         {"name": "schema-label", "version": 0},
                                         [{"uuid": kept, "version": 0}],
                                         b'{"label": "first"}')["uuid"]
        service.update_annotation(installation, DATASET, "alice", note,
                                  {"name": "schema-label", "version": 0}, b'{"label": "second"}')
        service.delete_annotation(installation, DATASET, "alice", note, 1)
        service.update_schema(installation, DATASET, "alice", "schema-label",
                              json.dumps({**LABEL_SCHEMA, "title": "v1"}).encode())
        _review_last(installation, True)
        service.deprecate_schema(installation, DATASET, "alice", "schema-label", 1)
        _review_last(installation, True)
        referenced = _referenced(installation)
        assert len(referenced) == 9  # 2 schemas, 5 object versions, 2 annotation versions

        # garbage: bytes put directly, and bytes of a raw upload whose event never committed
        orphan = installation.blobs.put(b"bytes that no event refers to")
        streamed = installation.blobs.put_stream([b"an upload ", b"cut off before its commit"])
        stale = installation.blobs.tmp / "upload-abc123"
        stale.write_bytes(b"half an upload")
    finally:
        installation.close()
    versions = {"kept": (kept, 0), "rejected": (rejected, 0), "deleted": (deleted, 0),
                "updated v0": (updated, 0), "updated v1": (updated, 1)}
    return SimpleNamespace(data_dir=data_dir, key=key, referenced=referenced,
                           orphans={orphan, streamed.digest}, stale=stale, versions=versions,
                           annotation=note)


def _assert_history_intact(site: SimpleNamespace, gonk_proc: Any) -> None:
    """Every referenced blob is there with its bytes; every version, rejected and deleted ones
    included, still loads through the API; `gonk-api verify` passes."""
    files = _blob_files(site.data_dir)
    for digest in site.referenced:
        assert digest in files, f"gc removed referenced bytes {digest}"
        path = site.data_dir / "blobs" / digest[:2] / digest
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    app = create_app(data_dir=site.data_dir)
    try:
        client = app.test_client()
        headers = {"x-api-key": site.key}
        for label, (item, version) in site.versions.items():
            resp = client.get(f"/datasets/{DATASET}/objects/{item}/{version}", headers=headers)
            assert resp.status_code == 200, (label, resp.get_data(as_text=True))
            data = base64.b64decode(resp.get_json()["bytes"])
            assert hashlib.sha256(data).hexdigest() == resp.get_json()["object"]["hash"]
            raw = client.get(f"/datasets/{DATASET}/objects/{item}/{version}/bytes",
                             headers=headers)
            assert raw.status_code == 200 and raw.data == data, label
        for version in (0, 1):
            resp = client.get(f"/datasets/{DATASET}/annotations/{site.annotation}/{version}",
                              headers=headers)
            assert resp.status_code == 200, resp.get_data(as_text=True)
        for version in (0, 1):
            resp = client.get(f"/datasets/{DATASET}/schemas/schema-label/{version}",
                              headers=headers)
            assert resp.status_code == 200, resp.get_data(as_text=True)
    finally:
        app.extensions["gonk"].close()
    verified = gonk_proc.run_cli("verify", data_dir=site.data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{DATASET}: OK" in verified.stdout


def test_gc_removes_exactly_the_unreferenced_blobs_and_stale_uploads(
        site: SimpleNamespace, gonk_proc: Any) -> None:
    before = _blob_files(site.data_dir)
    assert set(before) == site.referenced | site.orphans
    garbage_bytes = sum((site.data_dir / "blobs" / d[:2] / d).stat().st_size
                        for d in site.orphans)

    result = gonk_proc.run_cli("gc", "--min-age", "0", data_dir=site.data_dir)
    assert result.returncode == 0, result.stderr
    assert _summary(result.stdout) == ("Removed", 2, garbage_bytes, 1, len(site.referenced))
    assert set(_blob_files(site.data_dir)) == site.referenced
    assert not site.stale.exists()
    _assert_history_intact(site, gonk_proc)

    again = gonk_proc.run_cli("gc", "--min-age", "0", data_dir=site.data_dir)
    assert _summary(again.stdout) == ("Removed", 0, 0, 0, len(site.referenced))
    assert set(_blob_files(site.data_dir)) == site.referenced


def test_dry_run_removes_nothing_and_reports_what_gc_would_remove(
        site: SimpleNamespace, gonk_proc: Any) -> None:
    everything = sorted(str(p.relative_to(site.data_dir)) for p in
                        (site.data_dir / "blobs").rglob("*") if p.is_file())
    before = _blob_files(site.data_dir)

    dry = gonk_proc.run_cli("gc", "--min-age", "0", "--dry-run", data_dir=site.data_dir)
    assert dry.returncode == 0, dry.stderr
    assert sorted(str(p.relative_to(site.data_dir)) for p in
                  (site.data_dir / "blobs").rglob("*") if p.is_file()) == everything
    assert _blob_files(site.data_dir) == before  # not even touched
    assert site.stale.exists()

    real = gonk_proc.run_cli("gc", "--min-age", "0", data_dir=site.data_dir)
    assert real.returncode == 0, real.stderr
    verb, *would = _summary(dry.stdout)
    assert verb == "Would remove"
    assert would == list(_summary(real.stdout)[1:])  # the same blobs, bytes and files
    assert would[0] == 2 and would[1] > 0


def test_default_min_age_keeps_young_garbage(site: SimpleNamespace, gonk_proc: Any) -> None:
    """Fresh unreferenced bytes may belong to a write in flight: the default grace period
    (an hour) keeps them; once old, they go."""
    result = gonk_proc.run_cli("gc", data_dir=site.data_dir)
    assert result.returncode == 0, result.stderr
    assert _summary(result.stdout)[1:4] == (0, 0, 0)
    assert set(_blob_files(site.data_dir)) == site.referenced | site.orphans
    assert site.stale.exists()

    old_orphan, young_orphan = sorted(site.orphans)
    _age(site.data_dir / "blobs" / old_orphan[:2] / old_orphan)
    _age(site.stale)
    for digest in site.referenced:  # old referenced bytes stay, however old
        _age(site.data_dir / "blobs" / digest[:2] / digest, 30 * 24 * 3600)
    result = gonk_proc.run_cli("gc", data_dir=site.data_dir)
    _, blobs, _, temporary, _ = _summary(result.stdout)
    assert (blobs, temporary) == (1, 1)
    assert set(_blob_files(site.data_dir)) == site.referenced | {young_orphan}
    assert not site.stale.exists()
    _assert_history_intact(site, gonk_proc)


def test_a_blob_referenced_after_gc_listed_the_references_is_kept(
        site: SimpleNamespace, gonk_proc: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes commit while gc runs: a blob that was unreferenced when gc took its snapshot of
    references but is referenced by the time it would be removed stays."""
    monkeypatch.setattr(garbage, "referenced_digests", lambda installation: set())
    installation = Installation.open(site.data_dir)
    try:
        for digest in site.referenced | site.orphans:
            _age(installation.blobs.path(digest))
        result = garbage.collect(installation, min_age_seconds=0)
    finally:
        installation.close()
    assert result.blobs == 2
    assert set(_blob_files(site.data_dir)) == site.referenced
    _assert_history_intact(site, gonk_proc)


# --- LocalBlobStore.collect, unit level ---------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    blobs = LocalBlobStore(tmp_path / "blobs")
    blobs.create()
    return blobs


def _old_blob(store: LocalBlobStore, data: bytes) -> str:
    digest = store.put(data)
    _age(store.path(digest))
    return digest


def test_collect_removes_an_old_unreferenced_blob(store: LocalBlobStore) -> None:
    digest = _old_blob(store, b"garbage")
    freed = store.collect(digest, time.time() - 60, lambda: False)
    assert freed == len(b"garbage")
    assert not store.exists(digest)
    assert list(store.tmp.iterdir()) == []


def test_collect_leaves_a_young_blob_alone(store: LocalBlobStore) -> None:
    digest = store.put(b"just written")
    asked: list[bool] = []
    assert store.collect(digest, time.time() - 60, lambda: asked.append(True) or False) == 0
    assert store.get(digest) == b"just written"
    assert asked == []


def test_collect_puts_back_a_blob_whose_time_is_refreshed_after_gc_chose_it(
        store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write reusing the bytes refreshes the blob's time (LocalBlobStore._reuse) between gc's
    age check and its move aside: the moved file is young, so it goes back."""
    digest = _old_blob(store, b"about to be reused")
    final = store.path(digest)
    real_replace = os.replace

    def replace_after_a_reuse(src: Any, dst: Any) -> None:
        if Path(src) == final:
            assert store.put(b"about to be reused") == digest  # the racing write
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_after_a_reuse)
    freed = store.collect(digest, time.time() - 60, lambda: False)
    monkeypatch.undo()
    assert freed == 0
    assert store.get(digest) == b"about to be reused"
    assert list(store.tmp.iterdir()) == []


def test_collect_puts_back_a_blob_that_is_referenced_once_moved_aside(
        store: LocalBlobStore) -> None:
    digest = _old_blob(store, b"committed meanwhile")
    while_aside: list[bool] = []

    def referenced() -> bool:
        while_aside.append(not store.path(digest).exists())
        return True

    assert store.collect(digest, time.time() - 60, referenced) == 0
    assert while_aside == [True]  # asked after the move, when no new reuse can slip through
    assert store.get(digest) == b"committed meanwhile"
    assert list(store.tmp.iterdir()) == []


def test_a_write_that_finds_the_blob_moved_aside_stores_it_again(store: LocalBlobStore) -> None:
    digest = _old_blob(store, b"written again")

    def a_write_happens() -> bool:
        assert store.put(b"written again") == digest  # the blob is aside: put writes it anew
        return False  # not committed yet when gc asks

    store.collect(digest, time.time() - 60, a_write_happens)
    assert store.get(digest) == b"written again"
    assert list(store.tmp.iterdir()) == []


def test_gc_puts_back_blobs_left_aside_by_a_gc_that_died(tmp_path):
    from gonk import service
    from gonk.garbage import collect
    from gonk.installation import Installation
    from gonk.users import add_user

    installation = Installation.create(tmp_path / "data")
    add_user(installation, "alice")
    service.create_dataset(installation, "alice", "ds")
    service.create_object(installation, "ds", "alice", "a.txt", "text/plain", b"keep me")
    digest = installation.blobs.put(b"keep me")
    final = installation.blobs.path(digest)
    aside = installation.blobs.tmp / f"gc-{digest}"
    final.replace(aside)  # as a gc killed between moving the blob aside and deciding
    result = collect(installation, 0)
    assert final.read_bytes() == b"keep me"
    assert not aside.exists()
    assert result.blobs == 0
