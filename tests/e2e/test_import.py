"""`gonk-api import`: local and through a running server; re-running skips what is there. On
every storage combination."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import requests

from gonk.importer import Selection, collect_files, guess_mimetype
from tests.support.storage import BOTH_ENDS, process_storage

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


@pytest.fixture(params=BOTH_ENDS)
def installed(tmp_path: Path, gonk_proc, request: pytest.FixtureRequest) -> Iterator[Installed]:
    """An installation of SQLite + files and of PostgreSQL + S3 (all four combinations with
    GONK_TEST_STORAGE=all)."""
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


# --- what is left out, and names Gonk cannot store ---------------------------------------------


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A folder as people have them: hidden files and folders, temporary files, caches, and
    files whose names cannot be object names."""
    root = tmp_path / "messy"
    for name, data in {
        "a.txt": b"a", "sub/b.txt": b"b", "sub/deeper/c.txt": b"c",
        ".DS_Store": b"hidden", ".git/config": b"hidden folder", "sub/.cache/x": b"hidden too",
        "x.tmp": b"tmp", "sub/deeper/y.tmp": b"tmp too",
        "cache/z.bin": b"a cache folder", "sub/cache": b"a file named cache",
        "raw/r.bin": b"raw", "sub/raw/kept.bin": b"not the top raw",
        "schema-foo.json": b'{"not": "a schema"}', "sub/line\nbreak.txt": b"control",
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / os.fsdecode(b"latin-\xe9.txt")).write_bytes(b"not UTF-8")
    return root


def _names(paths: list[Path], **selection: Any) -> list[str]:
    return [f.name for f in collect_files(paths, Selection(**selection))]


def test_hidden_files_and_folders_are_left_out_unless_asked(messy: Path) -> None:
    default = _names([messy])
    assert not any(part.startswith(".") for name in default for part in name.split("/"))
    assert "a.txt" in default and "sub/deeper/c.txt" in default
    everything = _names([messy], include_hidden=True)
    assert {".DS_Store", ".git/config", "sub/.cache/x"} < set(everything)
    assert len(everything) == len(default) + 3
    # A hidden file named on the command line is imported: it was asked for by name.
    assert _names([messy / ".DS_Store"]) == [".DS_Store"]
    selection = Selection()
    collect_files([messy], selection)
    assert selection.hidden == 3  # .DS_Store, .git/ and sub/.cache/ (a folder counts once)


@pytest.mark.parametrize(("patterns", "left_out"), [
    (["*.tmp"], {"x.tmp", "sub/deeper/y.tmp"}),  # by name, at any depth
    (["cache"], {"cache/z.bin", "sub/cache"}),  # a folder (with all inside) or a file
    (["cache/"], {"cache/z.bin"}),  # folders only
    (["raw/*"], {"raw/r.bin"}),  # by object name: the top folder raw, not sub/raw
    (["sub/deeper"], {"sub/deeper/c.txt", "sub/deeper/y.tmp"}),
    (["./x.tmp", "*.TXT"], {"x.tmp"}),  # a leading ./ is ignored; patterns are case-sensitive
    (["*.tmp", "cache"], {"x.tmp", "sub/deeper/y.tmp", "cache/z.bin", "sub/cache"}),
])
def test_exclude_patterns_match_the_object_name_or_any_component(
        messy: Path, patterns: list[str], left_out: set[str]) -> None:
    default = _names([messy])
    assert left_out <= set(default)
    assert set(default) - set(_names([messy], exclude=tuple(patterns))) == left_out
    assert _names([messy / "x.tmp"], exclude=("*.tmp",)) == []  # named files too


def test_imports_skip_names_gonk_cannot_store_then_finish(messy: Path, installed: Installed,
                                                           gonk_proc: Any) -> None:
    """Locally and through a server: files whose names cannot be object names are reported
    with the reason and skipped, so a re-run exits 0; --strict fails on them (exit 1)."""
    data, key, env = installed
    server = gonk_proc.start_server(data, key, env=env)
    try:
        headers = {"x-api-key": key}
        for name in ("local", "remote"):
            assert requests.post(f"{server.base}/datasets", json={"name": name},
                                 headers=headers).status_code == 200
        how = {"local": ("--user", "alice"), "remote": ("--url", server.base, "--key", key)}
        excludes = ("--exclude", "*.tmp", "--exclude", "cache")
        for dataset, target in how.items():
            first = gonk_proc.run_cli("import", dataset, messy, *target, *excludes,
                                      data_dir=data, env=env)
            assert first.returncode == 0, first.stderr
            assert first.stdout.splitlines()[-1] == (
                "Imported 5 files (21 bytes); skipped 0 already in the dataset; 3 skipped "
                "(names Gonk cannot store); 0 failed.")
            assert "Left out 3 hidden and 4 excluded files or folders" in first.stdout
            assert ("skipped: schema-foo.json: Object names may not start with 'schema-'"
                    in first.stderr)
            assert "skipped: sub/line\\x0abreak.txt: Object names may not contain control " \
                   "characters" in first.stderr
            assert "skipped: latin-\\xe9.txt: The name is not valid UTF-8 text." in first.stderr
            assert "Traceback" not in first.stderr

            again = gonk_proc.run_cli("import", dataset, messy, *target, *excludes,
                                      data_dir=data, env=env)
            assert again.returncode == 0, again.stderr
            assert "Imported 0 files (0 bytes); skipped 5 already in the dataset; 3 skipped" \
                in again.stdout

            strict = gonk_proc.run_cli("import", dataset, messy, *target, *excludes,
                                       "--strict", data_dir=data, env=env)
            assert strict.returncode == 1
            assert "0 skipped (names Gonk cannot store); 3 failed." in strict.stdout
            assert "failed: schema-foo.json: Object names may not start" in strict.stderr

            events = requests.get(f"{server.base}/datasets/{dataset}/events?limit=100",
                                  headers=headers).json()
            names = [e["object"]["name"] for e in events if e["type"] == "ObjectCreateEvent"]
            assert sorted(names) == ["a.txt", "raw/r.bin", "sub/b.txt", "sub/deeper/c.txt",
                                     "sub/raw/kept.bin"]  # each once: the re-runs added none
    finally:
        server.stop()


def test_empty_exclude_pattern_is_refused(messy: Path, installed: Installed,
                                          gonk_proc: Any) -> None:
    data, _, env = installed
    refused = gonk_proc.run_cli("import", "pics", messy, "--user", "alice", "--exclude", "./",
                                data_dir=data, env=env)
    assert refused.returncode == 1 and "is not a pattern" in refused.stderr
