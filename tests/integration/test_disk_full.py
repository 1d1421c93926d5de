"""A full disk: writes answer 507 with a JSON error naming the component, reads keep working,
nothing acknowledged is lost, no partial blob is left under its final name, and writes work again
once space is freed; every chain still verifies.

Two ways: the blob store's flush made to fail with ENOSPC (any machine), and a real small
filesystem (a tmpfs mounted for the test; skipped where the machine does not allow mounting)
holding the blobs, or only the SQLite database.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gonk.api import create_app
from gonk.installation import Installation
from gonk.storage.blobs import local
from gonk.users import add_user
from gonk.verify import verify_dataset
from tests.support.http import Client, b64

RAW_HEADERS = {"Content-Type": "application/octet-stream"}


def _site(data_dir: Path, blob_url: str | None = None) -> SimpleNamespace:
    installation = Installation.create(data_dir, None, blob_url)
    app = create_app(installation=installation)
    alice = Client(app.test_client(), add_user(installation, "alice"), "alice")
    assert alice.post("/datasets", {"name": "birds"}).status_code == 200
    return SimpleNamespace(installation=installation, alice=alice)


def _upload(alice: Client, name: str, data: bytes) -> Any:
    return alice.post("/datasets/birds/objects",
                      {"name": name, "mimetype": "application/octet-stream", "object": b64(data)})


def _raw_upload(alice: Client, name: str, data: bytes) -> Any:
    return alice.request("POST", f"/datasets/birds/objects?name={name}", data=data,
                         headers={"x-api-key": alice.key, **RAW_HEADERS})


def _assert_full(response: Any, component: str) -> None:
    assert response.status_code == 507, (response.status_code, response.get_data(as_text=True))
    assert response.json["component"] == component
    assert "full" in response.json["error"]


def _blob_files(installation: Installation) -> set[str]:
    return {digest for digest, _ in installation.blobs.all_blobs()}


def test_enospc_from_the_blob_store_is_507_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _site(tmp_path / "data")
    alice = site.alice
    kept = _upload(alice, "kept.bin", b"stored before the disk filled")
    assert kept.status_code == 200
    events_before = alice.get("/datasets/birds/events").json
    blobs_before = _blob_files(site.installation)

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(local.os, "fsync", no_space)
    _assert_full(_upload(alice, "new.bin", b"x" * 5000), "blob store")
    _assert_full(_raw_upload(alice, "new.bin", b"y" * 5000), "blob store")
    # reads keep working
    assert alice.get(f"/datasets/birds/objects/{kept.json['uuid']}/0").status_code == 200
    assert alice.get("/datasets/birds/events").json == events_before
    monkeypatch.undo()

    # no partial blob under a final name, no temporary file left behind
    assert _blob_files(site.installation) == blobs_before
    assert list(site.installation.blobs.temporary_uploads()) == []
    assert _upload(alice, "new.bin", b"x" * 5000).status_code == 200
    assert verify_dataset(site.installation, "birds").ok


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs mounted for this test (root only)."""
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip() or 'mount'}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _fill(disk: Path) -> Path:
    """Take every free byte of the filesystem; returns the filler file to delete."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for block in (1 << 20, 65536, 4096, 512, 1):  # big writes first, then the last crumbs
            try:
                while True:
                    os.write(fd, b"\0" * block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def _until_full(alice: Client, component: str, size: int) -> list[tuple[str, bytes, str]]:
    """Upload distinct objects until one is refused with 507; returns the acknowledged ones
    (name, bytes, uuid). A write may still fit in space the database reserved earlier."""
    acknowledged = []
    for number in range(200):
        data = os.urandom(size)
        response = _upload(alice, f"late-{number}.bin", data)
        if response.status_code == 507:
            _assert_full(response, component)
            return acknowledged
        assert response.status_code == 200, response.get_data(as_text=True)
        acknowledged.append((f"late-{number}.bin", data, response.json["uuid"]))
    pytest.fail("200 writes on a full disk were all acknowledged")


def _check_everything_readable(alice: Client, acknowledged: list[tuple[str, bytes, str]]) -> None:
    for _name, data, uuid in acknowledged:
        loaded = alice.get(f"/datasets/birds/objects/{uuid}/0")
        assert loaded.status_code == 200
        assert loaded.json["bytes"] == b64(data)


def test_a_full_data_directory(small_disk: Path) -> None:
    site = _site(small_disk / "data")
    alice = site.alice
    first = _upload(alice, "first.bin", b"before")
    assert first.status_code == 200
    acknowledged = [("first.bin", b"before", first.json["uuid"])]
    filler = _fill(small_disk)

    acknowledged += _until_full(alice, "blob store", 20000)
    _assert_full(_raw_upload(alice, "raw.bin", os.urandom(20000)), "blob store")
    _check_everything_readable(alice, acknowledged)
    assert alice.get("/datasets/birds/events").status_code == 200
    assert list(site.installation.blobs.temporary_uploads()) == []

    filler.unlink()
    assert _upload(alice, "after.bin", b"space again").status_code == 200
    _check_everything_readable(alice, acknowledged)
    assert verify_dataset(site.installation, "birds").ok
    site.installation.close()


def test_a_full_disk_under_the_database(small_disk: Path, tmp_path: Path) -> None:
    """The SQLite database on the full disk, the blobs elsewhere: the commit fails, 507."""
    site = _site(small_disk / "data", blob_url=f"file://{tmp_path / 'blobs'}")
    alice = site.alice
    first = _upload(alice, "first.bin", b"before")
    assert first.status_code == 200
    acknowledged = [("first.bin", b"before", first.json["uuid"])]
    filler = _fill(small_disk)

    acknowledged += _until_full(alice, "database", 100)
    _check_everything_readable(alice, acknowledged)
    assert alice.get("/datasets/birds/events").status_code == 200

    filler.unlink()
    assert _upload(alice, "after.bin", b"space again").status_code == 200
    _check_everything_readable(alice, acknowledged)
    assert verify_dataset(site.installation, "birds").ok
    site.installation.close()
