"""Label-format exports over HTTP: GET /datasets/<d>/releases/<name>/export?format=F and
GET /datasets/<d>/export?as_of=P&format=F stream one zip archive of the labels in COCO, YOLO,
VOC, CSV or Parquet (with the object files when files=true), plus export-report.json listing
every annotation and object left out, with the reason. Also the label kinds' checks on
schemas (x-gonk-kind) and annotations."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from typing import Any

import pyarrow.parquet as pq
import pytest
from pycocotools.coco import COCO

from gonk.domain import label_kinds
from tests.support.api import (
    DS,
    accept,
    assert_error,
    create_annotation,
    create_object,
    create_schema,
    events,
    sha256,
)
from tests.support.http import Client, b64
from tests.support.images import image_bytes

# SQLite + files here; tests/integration/test_label_export_storage.py exports every format from
# PostgreSQL + S3 too (after a copy) and compares the bytes, and the first test below runs on both.
SQLITE = pytest.mark.parametrize("storage_kind", ["sqlite-files"], indirect=True)
BOTH = pytest.mark.parametrize("storage_kind", ["sqlite-files", "postgres-s3"], indirect=True)

BASE = f"/datasets/{DS}"


def _detection_schema(classes: list[str] | None = None) -> dict[str, Any]:
    schema = label_kinds.template("detection")
    if classes is not None:
        schema["properties"]["boxes"]["items"]["properties"]["label"]["enum"] = classes
    return schema


def _accept_all(client: Client) -> None:
    for event in events(client):
        if event.get("review") is None and event["type"] != "OwnerAddEvent" \
                and "Review" not in event["type"]:
            accept(client, event["uuid"])


@pytest.fixture
def labelled(alice: Client, ds: str) -> dict[str, Any]:
    """A released dataset: two images with boxes, a text file, and annotations that do not
    fit the image formats (a classification, a box outside its image, one linking two
    objects, one of a schema without a kind)."""
    create_schema(alice, "schema-detection", _detection_schema(["dog", "cat"]))
    create_schema(alice, "schema-classes", label_kinds.template("classification"))
    create_schema(alice, "schema-plain", {"type": "object"})
    png, jpg = image_bytes("PNG", 40, 30), image_bytes("JPEG", 64, 48)
    a = create_object(alice, png, "pics/a.png", "image/png")
    b = create_object(alice, jpg, "pics/b.jpg", "image/jpeg")
    notes = create_object(alice, "some notes", "notes.txt", "text/plain")
    boxes_a = create_annotation(alice, [(a, 0)], {"boxes": [
        {"label": "cat", "bbox": [1, 2, 10, 20], "score": 0.5},
        {"label": "dog", "bbox": [0, 0, 40, 30]}]}, schema="schema-detection")
    boxes_b = create_annotation(alice, [(b, 0)], {"boxes": [
        {"label": "dog", "bbox": [10.5, 4.25, 20, 40]}]}, schema="schema-detection")
    outside = create_annotation(alice, [(b, 0)], {"boxes": [
        {"label": "cat", "bbox": [50, 10, 20, 10]}]}, schema="schema-detection")
    classes = create_annotation(alice, [(a, 0)], {"labels": ["indoor"]},
                                schema="schema-classes")
    pair = create_annotation(alice, [(a, 0), (b, 0)], {"boxes": []},
                             schema="schema-detection")
    plain = create_annotation(alice, [(b, 0)], {"anything": 1}, schema="schema-plain")
    _accept_all(alice)
    resp = alice.post(f"{BASE}/releases", {"name": "v1"})
    assert resp.status_code == 200, resp.json
    return {"a": a, "b": b, "notes": notes, "png": png, "jpg": jpg, "boxes_a": boxes_a,
            "boxes_b": boxes_b, "outside": outside, "classes": classes, "pair": pair,
            "plain": plain, "release": resp.json}


def _archive(client: Client, query: str, path: str = f"{BASE}/releases/v1/export"
             ) -> zipfile.ZipFile:
    resp = client.get(f"{path}?{query}")
    assert resp.status_code == 200, resp.data[:500]
    assert resp.mimetype == "application/zip"
    assert resp.headers["Content-Disposition"].startswith("attachment; filename=")
    return zipfile.ZipFile(io.BytesIO(resp.data))


def _report(archive: zipfile.ZipFile) -> dict[str, Any]:
    return json.loads(archive.read("export-report.json"))


def _skipped(report: dict[str, Any]) -> dict[str, str]:
    return {s["uuid"]: s["reason"] for s in report["skipped"]["annotations"]}


@BOTH
def test_coco_export_holds_every_image_box_and_category(alice: Client,
                                                        labelled: dict[str, Any]) -> None:
    archive = _archive(alice, "format=coco")
    assert archive.namelist() == ["instances.json", "export-report.json"]
    document = json.loads(archive.read("instances.json"))
    assert [c["name"] for c in document["categories"]] == ["dog", "cat"]  # the enum's order
    assert [(i["file_name"], i["width"], i["height"]) for i in document["images"]] == [
        ("pics/a.png", 40, 30), ("pics/b.jpg", 64, 48)]
    assert document["images"][0]["coco_url"].endswith(
        f"/datasets/{DS}/objects/{labelled['a']}/0/bytes?as_of=v1")
    with open_temp_json(document) as path:
        coco = COCO(path)
    by_file = {coco.imgs[i]["file_name"]: i for i in coco.getImgIds()}
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    boxes_a = sorted((names[a["category_id"]], a["bbox"])
                     for a in coco.loadAnns(coco.getAnnIds(imgIds=[by_file["pics/a.png"]])))
    assert boxes_a == [("cat", [1, 2, 10, 20]), ("dog", [0, 0, 40, 30])]
    boxes_b = [(names[a["category_id"]], a["bbox"], a["area"])
               for a in coco.loadAnns(coco.getAnnIds(imgIds=[by_file["pics/b.jpg"]]))]
    assert boxes_b == [("dog", [10.5, 4.25, 20, 40], 800)]
    scored = [a for a in document["annotations"] if "score" in a]
    assert [a["score"] for a in scored] == [0.5]
    assert {a["gonk"]["annotation"] for a in document["annotations"]} == {
        labelled["boxes_a"], labelled["boxes_b"]}

    report = _report(archive)
    skipped = _skipped(report)
    assert set(skipped) == {labelled[k] for k in ("outside", "classes", "pair", "plain")}
    assert "outside its 64x48 image" in skipped[labelled["outside"]]
    assert "label kind is classification" in skipped[labelled["classes"]]
    assert "links 2 objects" in skipped[labelled["pair"]]
    assert "declares no label kind" in skipped[labelled["plain"]]
    assert [(o["uuid"], o["name"]) for o in report["skipped"]["objects"]] == [
        (labelled["notes"], "notes.txt")]
    assert report["exported"] == {"images": 2, "annotations": 2, "labels": 3}


class open_temp_json:
    """A JSON document in a temporary file (pycocotools reads paths)."""

    def __init__(self, document: Any) -> None:
        import tempfile

        self.file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(document, self.file)
        self.file.close()

    def __enter__(self) -> str:
        return self.file.name

    def __exit__(self, *exc: object) -> None:
        import os

        os.unlink(self.file.name)


@SQLITE
def test_files_true_puts_the_object_bytes_in_the_archive(alice: Client,
                                                         labelled: dict[str, Any]) -> None:
    archive = _archive(alice, "format=coco&files=true")
    assert archive.namelist() == ["images/pics/a.png", "images/pics/b.jpg", "instances.json",
                                  "export-report.json"]
    assert archive.read("images/pics/a.png") == labelled["png"]
    assert archive.read("images/pics/b.jpg") == labelled["jpg"]
    assert archive.getinfo("images/pics/a.png").compress_type == zipfile.ZIP_STORED
    document = json.loads(archive.read("instances.json"))
    assert all("coco_url" not in image for image in document["images"])
    assert archive.testzip() is None


@SQLITE
def test_archives_are_byte_identical_between_runs(alice: Client,
                                                  labelled: dict[str, Any]) -> None:
    for query in ("format=coco&files=true", "format=yolo", "format=voc", "format=csv",
                  "format=parquet&files=true"):
        first = alice.get(f"{BASE}/releases/v1/export?{query}").data
        second = alice.get(f"{BASE}/releases/v1/export?{query}").data
        assert first == second, query
        for info in zipfile.ZipFile(io.BytesIO(first)).infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)


@SQLITE
def test_yolo_export(alice: Client, labelled: dict[str, Any]) -> None:
    archive = _archive(alice, "format=yolo&files=true")
    assert archive.read("classes.txt") == b"dog\ncat\n"
    data_yaml = archive.read("data.yaml").decode()
    assert 'names:\n  0: "dog"\n  1: "cat"\n' in data_yaml and "nc: 2" in data_yaml
    assert archive.read("images.txt") == b"./images/pics/a.png\n./images/pics/b.jpg\n"
    assert archive.read("labels/pics/a.txt").decode().splitlines() == [
        "1 0.150000 0.400000 0.250000 0.666667", "0 0.500000 0.500000 1.000000 1.000000"]
    assert archive.read("labels/pics/b.txt").decode().splitlines() == [
        "0 0.320312 0.505208 0.312500 0.833333"]
    assert set(_skipped(_report(archive))) == {
        labelled[k] for k in ("outside", "classes", "pair", "plain")}


@SQLITE
def test_voc_export(alice: Client, labelled: dict[str, Any]) -> None:
    archive = _archive(alice, "format=voc&files=true")
    assert "JPEGImages/pics/b.jpg" in archive.namelist()
    assert archive.read("labels.txt") == b"dog\ncat\n"
    assert archive.read("labelmap.txt") == b"# label:color_rgb:parts:actions\ndog:::\ncat:::\n"
    assert archive.read("ImageSets/Main/default.txt") == b"pics/a\npics/b\n"
    root = ET.fromstring(archive.read("Annotations/pics/a.xml"))
    assert root.findtext("filename") == "pics/a.png"
    assert (root.findtext("size/width"), root.findtext("size/height"),
            root.findtext("size/depth")) == ("40", "30", "3")
    boxes = [(o.findtext("name"), [o.findtext(f"bndbox/{t}") for t in
                                   ("xmin", "ymin", "xmax", "ymax")])
             for o in root.iter("object")]
    assert boxes == [("cat", ["2", "3", "11", "22"]), ("dog", ["1", "1", "40", "30"])]
    root_b = ET.fromstring(archive.read("Annotations/pics/b.xml"))
    assert [o.findtext("bndbox/xmin") for o in root_b.iter("object")] == ["11.5"]


@SQLITE
def test_csv_export_has_a_row_per_label_and_every_object(alice: Client,
                                                         labelled: dict[str, Any]) -> None:
    archive = _archive(alice, "format=csv")
    rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    got = [(r["name"], r["kind"], r["label"], r["x"], r["y"], r["width"], r["height"],
            r["score"]) for r in rows]
    assert got == [
        ("pics/a.png", "detection", "cat", "1", "2", "10", "20", "0.5"),
        ("pics/a.png", "detection", "dog", "0", "0", "40", "30", ""),
        ("pics/a.png", "classification", "indoor", "", "", "", "", ""),
        ("pics/b.jpg", "detection", "dog", "10.5", "4.25", "20", "40", ""),
        # CSV does not describe images: the box past b's edge fits it
        ("pics/b.jpg", "detection", "cat", "50", "10", "20", "10", ""),
        ("notes.txt", "", "", "", "", "", "", ""),
    ]
    assert rows[0]["location"].endswith(f"/objects/{labelled['a']}/0/bytes?as_of=v1")
    assert rows[0]["sha256"] == sha256(labelled["png"])
    assert set(_skipped(_report(archive))) == {labelled["pair"], labelled["plain"]}


@SQLITE
def test_parquet_export_has_a_row_per_object(alice: Client, labelled: dict[str, Any]) -> None:
    archive = _archive(alice, "format=parquet&files=true")
    table = pq.read_table(io.BytesIO(archive.read("labels.parquet")))
    rows = table.to_pylist()
    assert [(r["name"], r["location"], r["width"], r["height"]) for r in rows] == [
        ("pics/a.png", "images/pics/a.png", 40, 30),
        ("pics/b.jpg", "images/pics/b.jpg", 64, 48),
        ("notes.txt", "images/notes.txt", None, None)]
    assert [(b["label"], b["x"], b["y"], b["width"], b["height"], b["score"])
            for b in rows[0]["boxes"]] == [("cat", 1, 2, 10, 20, 0.5),
                                           ("dog", 0, 0, 40, 30, None)]
    assert rows[0]["classifications"] == ["indoor"]
    assert [b["label"] for b in rows[1]["boxes"]] == ["dog", "cat"]
    assert rows[2]["boxes"] == [] and rows[2]["annotations"] == []
    assert archive.read("images/notes.txt") == b"some notes"


@SQLITE
def test_export_at_any_point(alice: Client, labelled: dict[str, Any]) -> None:
    """?as_of= an event: the content there (before the later accepts, nothing of b's)."""
    log = events(alice)
    first_accept = next(e for e in log if e["type"] == "ReviewAcceptEvent")
    archive = _archive(alice, f"format=csv&as_of={first_accept['uuid']}",
                       path=f"{BASE}/export")
    rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    assert len(rows) <= 1  # at most the one object or schema accepted by then
    latest = _archive(alice, "format=csv&as_of=v1", path=f"{BASE}/export")
    assert latest.read("labels.csv") == _archive(alice, "format=csv").read("labels.csv")


@SQLITE
def test_keypoints_and_segmentation_in_coco(alice: Client, ds: str) -> None:
    create_schema(alice, "schema-seg", label_kinds.template("segmentation"))
    create_schema(alice, "schema-points", label_kinds.template("keypoints"))
    image = create_object(alice, image_bytes("PNG", 20, 10), "x.png", "image/png")
    create_annotation(alice, [(image, 0)], {"instances": [
        {"label": "blob", "polygons": [[[0, 0], [4, 0], [4, 2], [0, 2]]]},
        {"label": "mask", "rle": {"size": [10, 20], "counts": [5, 3, 192]}, "iscrowd": True}]},
        schema="schema-seg")
    create_annotation(alice, [(image, 0)], {"instances": [
        {"label": "person", "points": [{"name": "nose", "x": 3, "y": 4},
                                       {"name": "ear", "x": 5, "y": 6, "visible": False}]}]},
        schema="schema-points")
    _accept_all(alice)
    assert alice.post(f"{BASE}/releases", {"name": "r"}).status_code == 200
    document = json.loads(_archive(alice, "format=coco", f"{BASE}/releases/r/export")
                          .read("instances.json"))
    by_name = {c["id"]: c for c in document["categories"]}
    assert [c["name"] for c in document["categories"]] == ["blob", "mask", "person"]
    assert by_name[3]["keypoints"] == ["ear", "nose"]
    blob, mask, person = document["annotations"]
    assert blob["segmentation"] == [[0, 0, 4, 0, 4, 2, 0, 2]]
    assert (blob["bbox"], blob["area"], blob["iscrowd"]) == ([0, 0, 4, 2], 8, 0)
    assert mask["segmentation"] == {"size": [10, 20], "counts": [5, 3, 192]}
    assert (mask["bbox"], mask["area"], mask["iscrowd"]) == ([0, 5, 1, 3], 3, 1)
    assert person["keypoints"] == [5, 6, 1, 3, 4, 2] and person["num_keypoints"] == 2
    assert person["bbox"] == [3, 4, 2, 2]


@pytest.mark.parametrize("query,status,message", [
    ("", 400, "'format' is required"),
    ("format=tiff", 400, "'format' must be one of"),
    ("format=coco&files=yes", 400, "'files' must be true or false"),
])
@SQLITE
def test_bad_requests_are_refused(alice: Client, labelled: dict[str, Any], query: str,
                                  status: int, message: str) -> None:
    assert_error(alice.get(f"{BASE}/releases/v1/export?{query}"), status, message)


@SQLITE
def test_unknown_points_and_datasets(alice: Client, labelled: dict[str, Any]) -> None:
    assert_error(alice.get(f"{BASE}/releases/nope/export?format=coco"), 404, "nope")
    assert_error(alice.get(f"{BASE}/export?format=coco"), 400, "'as_of' is required")
    assert_error(alice.get(f"{BASE}/export?format=coco&as_of=!!"), 400)
    assert_error(alice.get(
        f"{BASE}/export?format=coco&as_of=0d21d5a7-fe93-4618-a122-7ca9a2ee5116"), 404)
    assert_error(alice.get("/datasets/nope/releases/v1/export?format=coco"), 404)
    resp = alice.get(f"{BASE}/releases/v1/export?format=coco", headers={})
    assert resp.status_code == 401


@SQLITE
def test_unknown_label_kind_is_refused_at_schema_creation(alice: Client, ds: str) -> None:
    schema = {"type": "object", "x-gonk-kind": "bounding-boxes"}
    resp = alice.post(f"{BASE}/schemas", {"name": "schema-x", "schema": b64(schema)})
    body = assert_error(resp, 422, "x-gonk-kind")
    assert "detection" in body["error"]
    assert alice.get(f"{BASE}/schemas").json == []


@SQLITE
def test_an_annotation_must_fit_its_schemas_kind(alice: Client, ds: str) -> None:
    """A kind schema may narrow the reference; annotations must have the kind's shape even
    where the dataset's schema is looser."""
    loose = {"x-gonk-kind": "detection", "type": "object"}
    create_schema(alice, "schema-loose", loose)
    image = create_object(alice, image_bytes("PNG", 8, 8), "i.png", "image/png")
    resp = alice.post(f"{BASE}/annotations", {
        "schema": {"name": "schema-loose", "version": 0},
        "object_identifiers": [{"uuid": image, "version": 0}],
        "annotation": b64({"boxes": [{"label": "cat", "bbox": [1, 2, 3]}]})})
    assert_error(resp, 422, "label kind 'detection'")
    create_schema(alice, "schema-narrow", _detection_schema(["cat"]))
    resp = alice.post(f"{BASE}/annotations", {
        "schema": {"name": "schema-narrow", "version": 0},
        "object_identifiers": [{"uuid": image, "version": 0}],
        "annotation": b64({"boxes": [{"label": "dog", "bbox": [1, 2, 3, 4]}]})})
    assert_error(resp, 422)
    assert alice.get(f"{BASE}/annotations").json == []


@SQLITE
def test_a_server_without_the_labels_extra_says_which_package(
        alice: Client, labelled: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from gonk.labels import export as label_export

    real = importlib.util.find_spec
    monkeypatch.setattr(label_export.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real(name, *a))
    body = assert_error(alice.get(f"{BASE}/releases/v1/export?format=parquet"), 501)
    assert "pyarrow" in body["error"] and "gonk[labels]" in body["error"]
    assert alice.get(f"{BASE}/releases/v1/export?format=csv").status_code == 200
