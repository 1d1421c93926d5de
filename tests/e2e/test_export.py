"""`gonk-api export` (a release written out as files) and `gonk-api diff`, as real processes,
locally and through a running server (--url/--key).

One dataset is built in-process once for the module (objects with safe, unsafe and clashing
names, a schema, annotations; releases v1 and v2), then served by one `gonk-api run`. The export
and diff logic do not depend on the storage backend (they read the release's manifest and each
version's bytes), so these tests run on SQLite and local files only. The checks of a manifest
or of bytes that do not match their sha256 use a fake source in-process."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gonk import queries, releases, service
from gonk.domain.errors import GonkError
from gonk.exporting import Entry, Export, canonical_line
from gonk.installation import Installation
from gonk.users import add_user
from tests.support import processes

pytestmark = pytest.mark.xdist_group("export")

DS = "pics"
BIG = bytes(range(256)) * (10 * 1024 + 7)  # ~2.5 MiB: several chunks
OBJECTS = {  # name -> bytes, in creation (manifest) order
    "cat.jpg": b"\xff\xd8\xff cat v0",
    "sub/dog.png": b"\x89PNG dog",
    "../escape.txt": b"must stay inside",
    "/abs.txt": b"absolute",
    "CAT.JPG": b"another cat",  # clashes with cat.jpg, ignoring case
    "sub": b"a file where a folder is",  # clashes with the folder of sub/dog.png
    "sub/dog.png/inner": b"a folder where a file is",
    "a:b?.gif": b"GIF89a",
    "_gonk_renamed/x.bin": b"reserved folder",
    "big.bin": BIG,
    "empty.txt": b"",
    "ünï/文件.txt": "unicode".encode(),
}
KEPT = {"cat.jpg", "sub/dog.png", "big.bin", "empty.txt", "ünï/文件.txt"}
SCHEMA_V0 = {"type": "object", "properties": {"label": {"type": "string"}}}
SCHEMA_V1 = {"type": "object", "required": ["label"]}


def _accept_pending(inst: Installation) -> None:
    for raw in queries.event_page(inst, DS, None, 1000, pending=True):
        service.review(inst, DS, "alice", json.loads(raw)["uuid"], True)


def _build(data: Path) -> SimpleNamespace:
    """The dataset: v1 holds every object of OBJECTS, schema-label v0 and an annotation of
    cat.jpg; v2 changes cat.jpg (its annotation goes stale), deletes empty.txt, adds new.txt
    with an annotation, and updates the schema."""
    with pytest.MonkeyPatch.context() as patch:
        for variable in processes.STORAGE_VARIABLES:
            patch.delenv(variable, raising=False)
        inst = Installation.create(data, None, "")
    try:
        key = add_user(inst, "alice")
        service.create_dataset(inst, "alice", DS)
        schema = service.create_schema(inst, DS, "alice", "schema-label",
                                       json.dumps(SCHEMA_V0).encode())["uuid"]
        uuids = {name: service.create_object(inst, DS, "alice", name, "application/octet-stream",
                                             data)["uuid"] for name, data in OBJECTS.items()}
        _accept_pending(inst)
        cat_note = {"label": "cat", "score": 0.5, "nested": {"z": [1, 2], "a": "ü"}}
        service.create_annotation(inst, DS, "alice", {"name": "schema-label", "version": 0},
                                  [{"uuid": uuids["cat.jpg"], "version": 0}],
                                  json.dumps(cat_note, indent=2).encode())
        _accept_pending(inst)
        v1 = releases.create_release(inst, DS, "alice", "v1", "first", None)

        service.update_object(inst, DS, "alice", uuids["cat.jpg"], "cat.jpg", "image/jpeg",
                              b"cat v1")
        service.delete_object(inst, DS, "alice", uuids["empty.txt"], 0)
        new = service.create_object(inst, DS, "alice", "new.txt", "text/plain", b"new")["uuid"]
        service.update_schema(inst, DS, "alice", "schema-label", json.dumps(SCHEMA_V1).encode())
        _accept_pending(inst)
        service.create_annotation(inst, DS, "alice", {"name": "schema-label", "version": 1},
                                  [{"uuid": new, "version": 0}], b'{"label": "new"}')
        _accept_pending(inst)
        v2 = releases.create_release(inst, DS, "alice", "v2", "", None)
    finally:
        inst.close()
    return SimpleNamespace(data=data, key=key, uuids=uuids, new=new, v1=v1, v2=v2,
                           cat_note=cat_note, schema=schema)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    built = _build(tmp_path_factory.mktemp("export") / "data")
    server = processes.start_server(built.data, built.key)
    try:
        yield SimpleNamespace(**vars(built), server=server, base=server.base)
    finally:
        server.stop()


def _export(site: SimpleNamespace, out: Path, *options: str, release: str = "v1") -> Any:
    return processes.run_cli("export", DS, "--release", release, "--out", out, *options,
                             data_dir=site.data)


def _remote(site: SimpleNamespace) -> tuple[str, ...]:
    return ("--url", site.base, "--key", site.key)


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under root, by relative path; links refused."""
    found: dict[str, bytes | None] = {}
    for where, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(where, name)
            assert not path.is_symlink(), path
            relative = path.relative_to(root).as_posix()
            found[relative] = path.read_bytes() if name in files else None
    return found


@pytest.fixture(scope="module")
def local_export(site: SimpleNamespace,
                 tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """`gonk-api export pics --release v1` on the installation, into sandbox/out (read only for
    the tests: they copy it before changing anything)."""
    sandbox = tmp_path_factory.mktemp("sandbox")
    done = _export(site, sandbox / "out")
    assert done.returncode == 0, done.stderr
    return SimpleNamespace(sandbox=sandbox, out=sandbox / "out", done=done,
                           tree=_tree(sandbox / "out"))


def _lines(data: bytes | None) -> list[dict[str, Any]]:
    assert data is not None
    return [json.loads(line) for line in data.decode().splitlines()]


def test_local_export_writes_the_release(site: SimpleNamespace,
                                         local_export: SimpleNamespace) -> None:
    tree, done = local_export.tree, local_export.done
    # nothing outside DIR: the sandbox holds the output folder alone, and no temporary folder
    assert [p.name for p in local_export.sandbox.iterdir()] == ["out"]
    assert ".gonk-export-tmp" not in tree
    assert not Path("/abs.txt").exists() or Path("/abs.txt").read_bytes() != b"absolute"

    manifest = tree["manifest.jsonl"]
    assert manifest is not None
    assert hashlib.sha256(manifest).hexdigest() == site.v1["manifest_sha256"]
    entries = _lines(manifest)
    assert [e["kind"] for e in entries] == ["schema"] + ["object"] * len(OBJECTS) + ["annotation"]

    objects = _lines(tree["objects.jsonl"])
    assert [{k: v for k, v in o.items() if k != "path"} for o in objects] == entries[1:-1]
    paths = {o["name"]: o["path"] for o in objects}
    for name, data in OBJECTS.items():
        assert tree[paths[name]] == data, name
        if name in KEPT:
            assert paths[name] == f"objects/{name}"
        else:
            extension = {"../escape.txt": ".txt", "/abs.txt": ".txt", "CAT.JPG": ".JPG",
                         "a:b?.gif": ".gif", "_gonk_renamed/x.bin": ".bin"}.get(name, "")
            assert paths[name] == f"objects/_gonk_renamed/{site.uuids[name]}.0{extension}"
    object_files = {p for p, data in tree.items() if p.startswith("objects/") and data is not None}
    assert object_files == set(paths.values())

    schemas = _lines(tree["schemas.jsonl"])
    assert [s["path"] for s in schemas] == ["schemas/schema-label.json"]
    assert json.loads(tree["schemas/schema-label.json"] or b"") == SCHEMA_V0

    (note,) = _lines(tree["annotations.jsonl"])
    assert note["annotation"] == site.cat_note
    assert note["objects"] == [{"uuid": site.uuids["cat.jpg"], "version": 0}]
    assert {k: v for k, v in note.items() if k != "annotation"} == entries[-1]
    for name in ("objects.jsonl", "schemas.jsonl", "annotations.jsonl"):  # canonical lines
        for line in (tree[name] or b"").splitlines(keepends=True):
            assert canonical_line(json.loads(line)) == line

    summary = processes.last_line(done.stdout)
    assert summary.startswith(f"Exported release v1 of {DS} to ")
    assert "13 files written" in summary and "0 skipped" in summary
    assert f"({len(b''.join(OBJECTS.values())) + len(json.dumps(SCHEMA_V0))} bytes)" in summary
    assert "7 renamed" in summary
    assert "renamed: \"../escape.txt\" -> objects/_gonk_renamed/" in done.stderr
    assert "Exporting pics release v1" in done.stderr  # the progress bar, on standard error


def test_export_through_a_server_is_identical(site: SimpleNamespace,
                                              local_export: SimpleNamespace,
                                              tmp_path: Path) -> None:
    done = _export(site, tmp_path / "remote", *_remote(site))
    assert done.returncode == 0, done.stderr
    assert _tree(tmp_path / "remote") == local_export.tree  # every file, byte for byte
    assert processes.last_line(done.stdout) == processes.last_line(
        local_export.done.stdout).replace(str(local_export.out), str(tmp_path / "remote"))


def test_interrupted_export_is_finished_by_running_it_again(
        site: SimpleNamespace, local_export: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(local_export.out, out)
    (out / "objects" / "cat.jpg").unlink()  # never written
    with open(out / "objects" / "big.bin", "r+b") as handle:  # cut short
        handle.truncate(len(BIG) // 2)
    tampered = out / "objects" / "sub" / "dog.png"  # same size, other bytes
    tampered.write_bytes(b"X" * len(OBJECTS["sub/dog.png"]))
    (out / "manifest.jsonl").unlink()  # written last: absent until an export completes
    (out / "annotations.jsonl").write_bytes(b"half a li")
    (out / ".gonk-export-tmp").mkdir()
    (out / ".gonk-export-tmp" / f"object-{site.uuids['cat.jpg']}-0").write_bytes(b"\xff\xd8")

    done = _export(site, out, *_remote(site))
    assert done.returncode == 0, done.stderr
    assert _tree(out) == local_export.tree
    summary = processes.last_line(done.stdout)
    assert "3 files written" in summary and "10 skipped" in summary, summary


def test_export_never_writes_through_a_link(site: SimpleNamespace, tmp_path: Path) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    (out / "objects").mkdir(parents=True)
    outside.mkdir()
    (out / "objects" / "sub").symlink_to(outside, target_is_directory=True)
    done = _export(site, out)
    assert done.returncode == 1
    assert "is a symbolic link" in done.stderr and "Traceback" not in done.stderr
    assert list(outside.iterdir()) == []
    assert not (out / "manifest.jsonl").exists()


def test_diff_between_points(site: SimpleNamespace) -> None:
    """Locally between two releases, and through the server from an event uuid (v1's point) to
    the latest event (v2's point); unknown points and datasets fail with exit status 1."""
    local, remote, no_release, no_dataset = processes.run_many(
        ("diff", DS, "v1", "v2"), ("diff", DS, site.v1["at"]["uuid"], *_remote(site)),
        ("diff", DS, "v9"), ("diff", "nope", "v1", *_remote(site)), data_dir=site.data)
    uuids = site.uuids
    expected = [
        "schemas: 0 added, 0 removed, 1 changed; objects: 1 added, 1 removed, 1 changed; "
        "annotations: 1 added, 1 removed, 0 changed",
        f"changed schema {site.schema} v0 -> v1 schema-label",
        f"changed object {uuids['cat.jpg']} v0 -> v1 cat.jpg",
        f"removed object {uuids['empty.txt']} v0 empty.txt",
        f"added object {site.new} v0 new.txt",
    ]
    for done in (local, remote):
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[:5] == expected and len(lines) == 7, lines
        assert lines[5].startswith("removed annotation ") and lines[5].endswith(" v0")
        assert lines[6].startswith("added annotation ") and lines[6].endswith(" v0")
    assert no_release.returncode == 1
    assert no_release.stderr.strip() == "Error: 'from' names no release of this dataset: v9."
    assert no_dataset.returncode == 1
    assert no_dataset.stderr.strip() == "Error: 404: No dataset named nope."


# --- a source whose manifest or bytes do not match (in-process) ----------------------------------


class FakeSource:
    """A release of one object, with bytes and a manifest a test may spoil."""

    def __init__(self, data: bytes, served: bytes | None = None,
                 manifest_sha256: str | None = None) -> None:
        self.line = {"kind": "object", "uuid": "0b8f8e4c-1f3a-4c0e-9d43-6f1d2a3b4c5d",
                     "version": 0, "name": "a/b.txt", "mimetype": "text/plain",
                     "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        self.manifest_bytes = canonical_line(self.line)
        self.served = data if served is None else served
        self.sha = manifest_sha256 or hashlib.sha256(self.manifest_bytes).hexdigest()

    def release(self, name: str) -> dict[str, Any]:
        return {"name": name, "counts": {"bytes": self.line["size"]},
                "manifest_sha256": self.sha}

    def manifest(self, name: str) -> Iterator[bytes]:
        yield self.manifest_bytes

    @contextlib.contextmanager
    def content(self, entry: Entry, release: str) -> Iterator[Iterator[bytes]]:
        yield iter([self.served[:3], self.served[3:]])

    def diff_page(self, *args: Any) -> list[dict[str, Any]]:
        raise AssertionError("not used")


def test_a_manifest_that_does_not_match_its_sha256_fails(tmp_path: Path) -> None:
    source = FakeSource(b"hello", manifest_sha256="0" * 64)
    with pytest.raises(GonkError, match="not the release's manifest_sha256"):
        Export(source, DS, "v1", tmp_path / "out").run()
    assert _tree(tmp_path / "out") == {".gonk-export-tmp": None}


@pytest.mark.parametrize("served", [b"hellO", b"hell", b"hello!"])
def test_bytes_that_do_not_match_are_not_kept(tmp_path: Path, served: bytes) -> None:
    out = tmp_path / "out"
    (out / "objects" / "a").mkdir(parents=True)
    (out / "objects" / "a" / "b.txt").write_bytes(b"old!!")  # a wrong file already there
    with pytest.raises(GonkError, match="the file was not kept"):
        Export(FakeSource(b"hello", served), DS, "v1", out).run()
    left = _tree(out)
    assert {p: d for p, d in left.items() if not p.startswith(".gonk-export-tmp")} == {
        "objects": None, "objects/a": None, "objects/a/b.txt": b"old!!"}
    assert not [p for p in left if p.startswith(".gonk-export-tmp/object-")]  # no partial file
    done = Export(FakeSource(b"hello"), DS, "v1", out).run()  # the right bytes: replaced
    assert (done.written, done.skipped) == (1, 0)
    assert (out / "objects" / "a" / "b.txt").read_bytes() == b"hello"
    assert ".gonk-export-tmp" not in _tree(out)
