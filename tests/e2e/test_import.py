"""`gonk-api import`: local and through a running server; re-running skips what is there. On
every storage combination."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import requests

from gonk.importer import collect_files, guess_mimetype
from tests.support.storage import STORAGE_KINDS, process_storage

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    (root / "notes.txt").write_text("two birds\n")
    (root / "sub" / "bird").write_bytes(PNG)  # no extension: known by its content
    (root / "sub" / "labels.json").write_text('{"a": 1}')
    (root / "sub" / "empty.bin").write_bytes(b"")
    return root


@pytest.fixture(params=STORAGE_KINDS)
def installed(tmp_path: Path, gonk_proc, request: pytest.FixtureRequest) -> Iterator[Installed]:
    """An installation of each storage combination (SQLite or PostgreSQL, files or S3)."""
    data = tmp_path / "data"
    with process_storage(request.param, request) as env:
        init = gonk_proc.run_cli("init", "--username", "alice", data_dir=data, env=env)
        assert init.returncode == 0, init.stderr
        yield Installed(data, gonk_proc.last_line(init.stdout), env)


class Installed(NamedTuple):
    data: Path
    key: str
    env: dict[str, str]


def test_mimetypes_are_guessed_from_content_then_name(tree: Path) -> None:
    assert guess_mimetype(tree / "sub" / "bird") == "image/png"
    assert guess_mimetype(tree / "sub" / "labels.json") == "application/json"
    assert guess_mimetype(tree / "notes.txt") == "text/plain"
    assert [f.name for f in collect_files([tree])] == [
        "notes.txt", "sub/bird", "sub/empty.bin", "sub/labels.json"]


def test_local_import_then_rerun_skips(tree: Path, installed, gonk_proc) -> None:
    data, key, env = installed
    server = gonk_proc.start_server(data, key, env=env)
    try:
        headers = {"x-api-key": key}
        assert requests.post(f"{server.base}/datasets", json={"name": "pics"},
                             headers=headers).status_code == 200
        first = gonk_proc.run_cli("import", "pics", str(tree), "--user", "alice", data_dir=data,
                                  env=env)
        assert first.returncode == 0, first.stderr
        assert "Imported 4 files" in first.stdout and "skipped 0" in first.stdout
        again = gonk_proc.run_cli("import", "pics", str(tree), "--user", "alice", data_dir=data,
                                  env=env)
        assert again.returncode == 0
        assert "Imported 0 files" in again.stdout and "skipped 4" in again.stdout

        events = requests.get(f"{server.base}/datasets/pics/events?limit=100",
                              headers=headers).json()
        created = {e["object"]["name"]: e for e in events if e["type"] == "ObjectCreateEvent"}
        assert set(created) == {"notes.txt", "sub/bird", "sub/empty.bin", "sub/labels.json"}
        assert created["sub/bird"]["object"]["format"] == "image/png"
        assert created["sub/bird"]["author"] == "alice"
        bird = created["sub/bird"]["object"]
        assert bird["hash"] == hashlib.sha256(PNG).hexdigest()
        raw = requests.get(f"{server.base}/datasets/pics/objects/{bird['uuid']}/0/bytes",
                           headers=headers)
        assert raw.content == PNG
    finally:
        server.stop()


def test_remote_import_through_a_server(tree: Path, installed, gonk_proc) -> None:
    data, key, env = installed
    server = gonk_proc.start_server(data, key, env=env)
    try:
        headers = {"x-api-key": key}
        requests.post(f"{server.base}/datasets", json={"name": "pics"}, headers=headers)
        done = gonk_proc.run_cli("import", "pics", str(tree / "sub"), str(tree / "notes.txt"),
                                 "--url", server.base, "--key", key, data_dir=data, env=env)
        assert done.returncode == 0, done.stderr
        assert "Imported 4 files" in done.stdout
        (tree / "new.txt").write_text("a third bird\n")
        more = gonk_proc.run_cli("import", "pics", str(tree), "--url", server.base,
                                 "--key", key, data_dir=data, env=env)
        assert "Imported 1 files" in more.stdout and "skipped 4" in more.stdout
        objects = requests.get(f"{server.base}/datasets/pics/objects?limit=100",
                               headers=headers).json()
        assert len(objects) == 5

        unknown = gonk_proc.run_cli("import", "nope", str(tree), "--url", server.base,
                                    "--key", key, data_dir=data, env=env)
        assert unknown.returncode == 1 and "No dataset named nope" in unknown.stderr
        bad_key = gonk_proc.run_cli("import", "pics", str(tree), "--url", server.base,
                                    "--key", "wrong", data_dir=data, env=env)
        assert bad_key.returncode == 1 and "401" in bad_key.stderr
    finally:
        server.stop()
    gone = gonk_proc.run_cli("import", "pics", str(tree), "--url", server.base, "--key", key,
                             data_dir=data, env=env)
    assert gone.returncode == 1 and "Cannot reach" in gone.stderr
    assert "Traceback" not in gone.stderr


def test_local_import_needs_a_known_user(tree: Path, installed, gonk_proc) -> None:
    data, _, env = installed
    missing = gonk_proc.run_cli("import", "pics", str(tree), data_dir=data, env=env)
    assert missing.returncode == 1 and "--user" in missing.stderr
    unknown = gonk_proc.run_cli("import", "pics", str(tree), "--user", "zed", data_dir=data,
                                env=env)
    assert unknown.returncode == 1 and "No user named zed" in unknown.stderr
