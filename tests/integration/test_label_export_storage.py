"""Label exports are reproducible: the same release exported from SQLite + files and, after
`copy`, from PostgreSQL + S3 gives byte-identical zip archives in every format (with and
without the object files), and `gonk-api export` into a folder writes exactly the archive's
files."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gonk import copying, queries, releases, service
from gonk.domain import label_kinds
from gonk.installation import Installation
from gonk.labels.export import FORMATS, open_export
from gonk.labels.output import write_folder, zip_stream
from tests.support import postgres
from tests.support.images import image_bytes

DS, AUTHOR = "shapes", "alice"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


def _labelled(inst: Installation) -> None:
    service.create_dataset(inst, AUTHOR, DS)
    for kind in ("detection", "segmentation", "classification", "caption"):
        service.create_schema(inst, DS, AUTHOR, f"schema-{kind}",
                              json.dumps(label_kinds.template(kind)).encode())
    objects = [service.create_object(inst, DS, AUTHOR, f"img/{n}.png", "image/png",
                                     image_bytes("PNG", 20 + n, 10 + n, (n, 2 * n, 3 * n)))
               ["uuid"] for n in range(6)]
    documents = {
        "detection": lambda n: {"boxes": [{"label": f"c{n % 3}", "bbox": [n, 1, 3.5, 2]}]},
        "segmentation": lambda n: {"instances": [{"label": "blob", "polygons": [
            [[0, 0], [n + 1, 0], [n + 1, 2]]]}]},
        "classification": lambda n: {"labels": ["x", "y"][: n % 2 + 1]},
        "caption": lambda n: {"captions": [f"picture {n} ü"]},
    }
    for n, uuid in enumerate(objects):
        for kind, document in documents.items():
            service.create_annotation(inst, DS, AUTHOR, {"name": f"schema-{kind}", "version": 0},
                                      [{"uuid": uuid, "version": 0}],
                                      json.dumps(document(n)).encode())
    for raw in queries.event_page(inst, DS, None, 1000, pending=True):
        service.review(inst, DS, AUTHOR, json.loads(raw)["uuid"], True)
    releases.create_release(inst, DS, AUTHOR, "v1", "", None)


def _archive(inst: Installation, format: str, files: bool) -> bytes:
    job = open_export(inst, DS, "v1", format, files, "http://gonk", release_only=True)
    return b"".join(zip_stream(job.files()))


def test_archives_are_identical_after_a_copy_to_postgres_and_s3(
        tmp_path: Path, postgres_url: str, s3_blob_url: str) -> None:
    source = Installation.create(tmp_path / "data")
    target = Installation.create(tmp_path / "elsewhere", postgres_url, s3_blob_url)
    try:
        _labelled(source)
        copying.copy_installation(source, target)
        for format in FORMATS:
            for files in (False, True):
                here, there = _archive(source, format, files), _archive(target, format, files)
                assert here == there, (format, files)
                names = zipfile.ZipFile(io.BytesIO(here)).namelist()
                assert ("images/img/0.png" in names or "JPEGImages/img/0.png" in names) == files
    finally:
        target.close()
        source.close()


def test_a_folder_export_holds_the_archives_files(tmp_path: Path) -> None:
    inst = Installation.create(tmp_path / "data")
    try:
        _labelled(inst)
        for format in FORMATS:
            archive = zipfile.ZipFile(io.BytesIO(_archive(inst, format, True)))
            out = tmp_path / format
            job = open_export(inst, DS, "v1", format, True, "http://gonk", release_only=True)
            write_folder(job.files(), out)
            written = {p.relative_to(out).as_posix(): p.read_bytes()
                       for p in out.rglob("*") if p.is_file()}
            assert written == {name: archive.read(name) for name in archive.namelist()}, format
            report = json.loads(written["export-report.json"])
            kinds = FORMATS[format]
            assert report["exported"]["annotations"] == 6 * sum(
                1 for k in ("detection", "segmentation", "classification", "caption")
                if k in kinds)
            assert len(report["skipped"]["annotations"]) == 24 - report["exported"]["annotations"]
    finally:
        inst.close()
