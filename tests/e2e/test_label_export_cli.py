"""`gonk-api export --format coco|yolo|voc|csv|parquet` as a real process, locally and through a
running server (--url/--key): the files written, the report of what was skipped and its summary
line, resuming, --no-files with --base-url, --as-of, and the refusals.

One dataset is built in-process for the module and served by one `gonk-api run`; the storage
combinations are compared byte for byte in tests/integration/test_label_export_storage.py."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gonk import queries, releases, service
from gonk.domain import label_kinds
from gonk.installation import Installation
from gonk.users import add_user
from tests.support import processes
from tests.support.images import image_bytes

pytestmark = pytest.mark.xdist_group("label_export_cli")

DS = "pics"


def _accept_pending(inst: Installation) -> None:
    for raw in queries.event_page(inst, DS, None, 1000, pending=True):
        service.review(inst, DS, "alice", json.loads(raw)["uuid"], True)


def _build(data: Path) -> SimpleNamespace:
    with pytest.MonkeyPatch.context() as patch:
        for variable in processes.STORAGE_VARIABLES:
            patch.delenv(variable, raising=False)
        inst = Installation.create(data, None, "")
    try:
        key = add_user(inst, "alice")
        service.create_dataset(inst, "alice", DS)
        schema = label_kinds.template("detection")
        service.create_schema(inst, DS, "alice", "schema-detection", json.dumps(schema).encode())
        images = {"train/a.png": image_bytes("PNG", 50, 40), "b.jpg": image_bytes("JPEG", 30, 20)}
        uuids = {name: service.create_object(inst, DS, "alice", name, "image/png", data)["uuid"]
                 for name, data in images.items()}
        _accept_pending(inst)
        ref = {"name": "schema-detection", "version": 0}
        service.create_annotation(inst, DS, "alice", ref, [{"uuid": uuids["train/a.png"],
                                                            "version": 0}],
                                  json.dumps({"boxes": [{"label": "zebra",
                                                         "bbox": [5, 5, 10, 10]}]}).encode())
        outside = service.create_annotation(
            inst, DS, "alice", ref, [{"uuid": uuids["b.jpg"], "version": 0}],
            json.dumps({"boxes": [{"label": "ant", "bbox": [25, 0, 10, 10]}]}).encode())["uuid"]
        _accept_pending(inst)
        releases.create_release(inst, DS, "alice", "v1", "", None)
        first_event = json.loads(queries.event_page(inst, DS, None, 1)[0])["uuid"]
    finally:
        inst.close()
    return SimpleNamespace(data=data, key=key, uuids=uuids, images=images, outside=outside,
                           first_event=first_event)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    built = _build(tmp_path_factory.mktemp("labels") / "data")
    server = processes.start_server(built.data, built.key)
    try:
        yield SimpleNamespace(**vars(built), server=server, base=server.base)
    finally:
        server.stop()


def _export(site: SimpleNamespace, out: Path, *options: str) -> Any:
    return processes.run_cli("export", DS, "--out", out, *options, data_dir=site.data)


def _tree(root: Path) -> dict[str, bytes]:
    return {Path(where, name).relative_to(root).as_posix(): Path(where, name).read_bytes()
            for where, _, files in os.walk(root) for name in files}


def test_local_coco_export_writes_files_report_and_summary(site: SimpleNamespace,
                                                           tmp_path: Path) -> None:
    done = _export(site, tmp_path / "out", "--release", "v1", "--format", "coco")
    assert done.returncode == 0, done.stderr
    tree = _tree(tmp_path / "out")
    assert sorted(tree) == ["export-report.json", "images/b.jpg", "images/train/a.png",
                            "instances.json"]
    assert tree["images/train/a.png"] == site.images["train/a.png"]
    coco = json.loads(tree["instances.json"])
    assert [c["name"] for c in coco["categories"]] == ["zebra"]  # sorted labels: no enum
    assert [(a["bbox"], a["image_id"]) for a in coco["annotations"]] == [([5, 5, 10, 10], 1)]
    report = json.loads(tree["export-report.json"])
    assert [s["uuid"] for s in report["skipped"]["annotations"]] == [site.outside]
    last = processes.last_line(done.stdout)
    assert last.startswith(f"Exported v1 of {DS} as coco to ")
    assert "2 images, 1 labels from 1 annotations; SKIPPED 1 annotations and 0 objects" in last
    assert f"skipped annotation {site.outside} v0: label 0 (ant)" in done.stderr


def test_remote_export_writes_the_same_files(site: SimpleNamespace, tmp_path: Path) -> None:
    local = _export(site, tmp_path / "local", "--release", "v1", "--format", "yolo")
    remote = _export(site, tmp_path / "remote", "--release", "v1", "--format", "yolo",
                     "--url", site.base, "--key", site.key)
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    assert _tree(tmp_path / "local") == _tree(tmp_path / "remote")
    assert _tree(tmp_path / "remote")["labels/train/a.txt"] == \
        b"0 0.200000 0.250000 0.200000 0.250000\n"
    assert processes.last_line(remote.stdout) == processes.last_line(local.stdout).replace(
        str(tmp_path / "local"), str(tmp_path / "remote"))


def test_an_export_run_again_keeps_the_object_files(site: SimpleNamespace,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _export(site, out, "--release", "v1", "--format", "voc").returncode == 0
    first = _tree(out)
    image = out / "JPEGImages" / "train" / "a.png"
    before = image.stat().st_mtime_ns
    (out / "Annotations" / "b.xml").write_text("changed")
    (out / "export-report.json").unlink()  # as an interrupted export leaves it
    again = _export(site, out, "--release", "v1", "--format", "voc")
    assert again.returncode == 0, again.stderr
    assert _tree(out) == first
    assert image.stat().st_mtime_ns == before  # kept: its sha256 matched


def test_no_files_with_a_base_url(site: SimpleNamespace, tmp_path: Path) -> None:
    done = _export(site, tmp_path / "out", "--release", "v1", "--format", "csv", "--no-files",
                   "--base-url", "https://gonk.example.org/")
    assert done.returncode == 0, done.stderr
    tree = _tree(tmp_path / "out")
    assert sorted(tree) == ["export-report.json", "labels.csv"]
    rows = tree["labels.csv"].decode().splitlines()
    url = (f"https://gonk.example.org/datasets/{DS}/objects/{site.uuids['train/a.png']}/0/"
           "bytes?as_of=v1")
    assert url in rows[1]


def test_as_of_an_event(site: SimpleNamespace, tmp_path: Path) -> None:
    done = _export(site, tmp_path / "out", "--as-of", site.first_event, "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert _tree(tmp_path / "out")["labels.csv"].decode().splitlines()[1:] == []
    assert "0 objects, 0 labels from 0 annotations; nothing skipped." in done.stdout


@pytest.mark.parametrize("options,message", [
    (("--format", "coco"), "Name what to export"),
    (("--release", "v1", "--as-of", "v1", "--format", "coco"), "Name what to export"),
    (("--as-of", "v1"), "--as-of needs a label format"),
    (("--release", "nope", "--format", "coco"), "No release named nope"),
])
def test_refusals(site: SimpleNamespace, tmp_path: Path, options: tuple[str, ...],
                  message: str) -> None:
    done = _export(site, tmp_path / "out", *options)
    assert done.returncode != 0
    assert message in done.stderr


def test_remote_refusal_is_the_servers_message(site: SimpleNamespace, tmp_path: Path) -> None:
    done = _export(site, tmp_path / "out", "--release", "nope", "--format", "coco",
                   "--url", site.base, "--key", site.key)
    assert done.returncode != 0
    assert "404" in done.stderr and "No release named nope" in done.stderr
    assert not (tmp_path / "out").exists()
