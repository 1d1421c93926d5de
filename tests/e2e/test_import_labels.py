"""`gonk-api import-labels`: COCO, YOLO and Pascal VOC labels made by the tests (real PNG and
JPEG images), imported locally (--user) and through a running server (--url/--key); what is
stored (objects, the kind's schema, one pending annotation per image), accept all, a release
and what it holds; running it again proposes nothing; malformed input stores nothing at all.

The COCO round trip runs on every storage combination; the others on SQLite + files (and YOLO
and VOC also on PostgreSQL + S3). The last tests go on through `gonk-api export --format`
(the label export) and read its output with pycocotools, or as YOLO and VOC files."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from xml.etree import ElementTree

import pytest
import requests

from gonk.domain import label_kinds
from tests.support import label_data as data
from tests.support.storage import ALL_STORAGE_REQUESTED, BOTH_ENDS, running_site

MIMETYPES = {"a.png": "image/png", "sub/b.jpg": "image/jpeg", "c.png": "image/png"}


class Site:
    """A running server (running_site) and the calls the tests make to it."""

    def __init__(self, site: SimpleNamespace, gonk_proc: Any) -> None:
        self.site, self.gonk_proc = site, gonk_proc
        self.base, self.key = site.base, site.key
        self.headers = {"x-api-key": site.key}

    def get(self, dataset: str, path: str, **params: Any) -> Any:
        response = requests.get(f"{self.base}/datasets/{dataset}{path}", params=params,
                                headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json() if "/bytes" not in path else response.content

    def create_dataset(self, name: str) -> None:
        response = requests.post(f"{self.base}/datasets", json={"name": name},
                                 headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text

    def create_schema(self, dataset: str, name: str, document: Any) -> str:
        response = requests.post(f"{self.base}/datasets/{dataset}/schemas", timeout=30,
                                 headers=self.headers, json={
                                     "name": name, "schema": _b64(json.dumps(document))})
        assert response.status_code == 200, response.text
        return str(response.json()["uuid"])

    def events(self, dataset: str, pending: bool = False) -> list[dict[str, Any]]:
        return self.get(dataset, "/events", limit=1000, pending=str(pending).lower())

    def review_all(self, dataset: str, accept: bool = True) -> int:
        pending = self.events(dataset, pending=True)
        for event in pending:
            verb = "accept" if accept else "reject"
            response = requests.put(f"{self.base}/datasets/{dataset}/events/{event['uuid']}/"
                                    f"{verb}", headers=self.headers, timeout=30)
            assert response.status_code == 200, response.text
        return len(pending)

    def review(self, dataset: str, event_uuid: str, accept: bool) -> None:
        verb = "accept" if accept else "reject"
        response = requests.put(f"{self.base}/datasets/{dataset}/events/{event_uuid}/{verb}",
                                headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text

    def release(self, dataset: str, name: str) -> dict[str, Any]:
        response = requests.post(f"{self.base}/datasets/{dataset}/releases", json={"name": name},
                                 headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def stored(self, dataset: str) -> dict[str, Any]:
        """What the dataset holds now, from its events: object name -> its create event's
        object, and the annotation create events with their documents."""
        objects, annotations = {}, []
        for event in self.events(dataset):
            if event["type"] == "ObjectCreateEvent" and not event["object"]["name"].startswith(
                    "schema-"):
                objects[event["object"]["name"]] = event["object"]
            if event["type"] == "AnnotationCreateEvent":
                meta = event["annotation"]
                raw = self.get(dataset, f"/annotations/{meta['uuid']}/{meta['version']}/bytes")
                annotations.append({"event": event, "bytes": raw, "document": json.loads(raw)})
        return {"objects": objects, "annotations": annotations}

    def documents_in_release(self, dataset: str, release: str) -> dict[str, Any]:
        """The release's content: object name -> the document of its annotation."""
        response = requests.get(f"{self.base}/datasets/{dataset}/releases/{release}/manifest",
                                headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        lines = [json.loads(line) for line in response.text.splitlines()]
        names = {(line["uuid"], line["version"]): line["name"] for line in lines
                 if line["kind"] == "object"}
        found: dict[str, Any] = {}
        for line in lines:
            if line["kind"] == "annotation":
                (target,) = line["objects"]
                name = names[(target["uuid"], target["version"])]
                assert name not in found, f"two annotations of {name}"
                found[name] = json.loads(self.get(
                    dataset, f"/annotations/{line['uuid']}/{line['version']}/bytes"))
        return found

    def import_labels(self, dataset: str, label_format: str, path: Path, *options: str,
                      remote: bool = False) -> Any:
        how = ("--url", self.base, "--key", self.key) if remote else ("--user", "alice")
        return self.gonk_proc.run_cli("import-labels", dataset, "--format", label_format, path,
                                      *options, *how, data_dir=self.site.data_dir,
                                      env=self.site.env)


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def site_of(tmp_path: Path, request: pytest.FixtureRequest,
            gonk_proc: Any) -> Iterator[Any]:
    """Start a site of a storage kind: site_of("sqlite-files")."""
    with_stack: list[Any] = []

    def start(kind: str) -> Site:
        context = running_site(tmp_path / "data", kind, request, ["alice"])
        with_stack.append(context)
        return Site(context.__enter__(), gonk_proc)

    yield start
    for context in reversed(with_stack):
        context.__exit__(None, None, None)


def _summary(dataset: str, added: int, present: int, proposed: int, there: int,
             schema: str) -> str:
    return (f"Imported labels into {dataset}: {added} images added, {present} already present; "
            f"{proposed} annotations proposed, {there} already there; {schema}.")


def _expected_schema(kind: str, classes: list[str]) -> dict[str, Any]:
    document = label_kinds.template(kind)
    node = document
    path = label_kinds.LABEL_ENUM_PATHS[kind]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = classes
    return document


def _round_trip(site: Site, dataset: str, label_format: str, path: Path, kind: str,
                classes: list[str], documents: dict[str, Any], images: dict[str, Path],
                remote: bool) -> None:
    """Import, check what is stored, run again (nothing new), accept all, release, check the
    release's content, run again (still nothing new)."""
    site.create_dataset(dataset)
    first = site.import_labels(dataset, label_format, path, remote=remote)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == _summary(dataset, 3, 0, 3, 0,
                                                     f"schema schema-{kind} created")
    assert "Traceback" not in first.stderr

    # What is stored: the schema, the images as objects, one annotation per image; all pending.
    schemas = site.get(dataset, "/schemas")
    assert [s["name"] for s in schemas] == [f"schema-{kind}"]
    schema_bytes = site.get(dataset, f"/schemas/schema-{kind}/0/bytes")
    assert json.loads(schema_bytes) == _expected_schema(kind, classes)
    stored = site.stored(dataset)
    assert set(stored["objects"]) == set(data.IMAGES)
    for name, meta in stored["objects"].items():
        assert meta["hash"] == hashlib.sha256(images[name].read_bytes()).hexdigest()
        assert meta["format"] == MIMETYPES[name]
        assert meta["version"] == 0
    uuids = {meta["uuid"]: name for name, meta in stored["objects"].items()}
    by_name = {}
    for found in stored["annotations"]:
        event = found["event"]
        assert event["author"] == "alice"
        assert event["annotation"]["schema"] == {"uuid": schemas[0]["uuid"], "version": 0}
        (target,) = event["object_identifiers"]
        assert target["version"] == 0
        by_name[uuids[target["uuid"]]] = found["document"]
        # stored as RFC 8785 canonical JSON
        assert found["bytes"] == json.dumps(found["document"], sort_keys=True,
                                            separators=(",", ":")).encode()
    assert by_name == documents
    pending = site.events(dataset, pending=True)
    assert len(pending) == 1 + 3 + 3  # the schema, the objects, the annotations
    assert {e["type"] for e in pending} == {"ObjectCreateEvent", "AnnotationCreateEvent"}
    assert len(site.get(dataset, "/annotations/pending")) == 3
    assert site.get(dataset, "/annotations/accepted") == []

    count = len(site.events(dataset))
    again = site.import_labels(dataset, label_format, path, remote=remote)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == _summary(
        dataset, 0, 3, 0, 3, f"schema schema-{kind} version 0 used")
    assert len(site.events(dataset)) == count  # nothing proposed

    assert site.review_all(dataset) == 7
    release = site.release(dataset, "r1")
    assert release["counts"]["objects"] == 3 and release["counts"]["annotations"] == 3
    assert release["counts"]["schemas"] == 1 and release["counts"]["stale_annotations"] == 0
    assert site.documents_in_release(dataset, "r1") == documents
    assert len(site.get(dataset, "/annotations/accepted")) == 3

    after = site.import_labels(dataset, label_format, path, remote=remote)
    assert after.returncode == 0, after.stderr
    assert after.stdout.splitlines()[-1] == _summary(
        dataset, 0, 3, 0, 3, f"schema schema-{kind} version 0 used")
    assert site.events(dataset, pending=True) == []


# the label code is the same on every storage, whose own suites cover the rest: SQLite + files,
# and PostgreSQL + S3 as well with GONK_TEST_STORAGE=all
@pytest.mark.parametrize("storage", BOTH_ENDS if ALL_STORAGE_REQUESTED else ["sqlite-files"])
def test_coco_round_trip_locally_and_through_a_server(site_of: Any, tmp_path: Path,
                                                      storage: str) -> None:
    site = site_of(storage)
    path = data.write_coco(tmp_path / "coco")
    images = {name: tmp_path / "coco" / name for name in data.IMAGES}
    for dataset, remote in (("local", False), ("remote", True)):
        _round_trip(site, dataset, "coco", path, "segmentation", data.COCO_CLASSES,
                    data.coco_documents("segmentation"), images, remote)
    if storage == "sqlite-files":  # boxes only: a detection schema and box documents
        _round_trip(site, "boxes", "coco", data.write_coco(tmp_path / "boxes",
                                                           with_polygons=False),
                    "detection", data.COCO_CLASSES, data.coco_documents("detection"), images,
                    remote=True)


# (the readers do not depend on the storage)
@pytest.mark.parametrize("storage", ["sqlite-files"])
@pytest.mark.parametrize("label_format", ["yolo", "voc"])
def test_yolo_and_voc_round_trip_locally_and_through_a_server(
        site_of: Any, tmp_path: Path, storage: str, label_format: str) -> None:
    site = site_of(storage)
    if label_format == "yolo":
        path = data.write_yolo(tmp_path / "set", "data.yaml")
        images = {name: path / "images" / name for name in data.IMAGES}
        classes, documents = data.YOLO_NAMES, data.YOLO_DOCUMENTS
    else:
        path = data.write_voc(tmp_path / "set")
        images = {name: path / "JPEGImages" / name for name in data.IMAGES}
        classes, documents = data.VOC_CLASSES, data.VOC_DOCUMENTS
    for dataset, remote in (("local", False), ("remote", True)):
        _round_trip(site, dataset, label_format, path, "detection", classes, documents, images,
                    remote)


@pytest.mark.parametrize("remote", [False, True], ids=["local", "remote"])
def test_images_and_schema_already_there_are_used(site_of: Any, tmp_path: Path,
                                                  remote: bool) -> None:
    """Images whose bytes are in the dataset are linked, not added (at the version holding
    them); the dataset's schema of the kind is used at its newest live version; an annotation
    that was rejected does not count as there."""
    site = site_of("sqlite-files")
    site.create_dataset("pics")
    root = data.write_voc(tmp_path / "voc")
    done = site.gonk_proc.run_cli("import", "pics", root / "JPEGImages" / "sub",
                                  root / "JPEGImages" / "c.png", "--user", "alice",
                                  data_dir=site.site.data_dir, env=site.site.env)
    assert done.returncode == 0, done.stderr
    # a.png's bytes are the second version of an object named otherwise
    old = requests.post(f"{site.base}/datasets/pics/objects", params={"name": "old.png"},
                        data=b"\x89PNG an older picture", headers=site.headers, timeout=30)
    assert old.status_code == 200
    old_uuid = old.json()["uuid"]
    updated = requests.patch(f"{site.base}/datasets/pics/objects/{old_uuid}",
                             params={"name": "renamed.png"},
                             data=(root / "JPEGImages" / "a.png").read_bytes(),
                             headers={**site.headers, "Content-Type": "image/png"}, timeout=30)
    assert updated.status_code == 200 and updated.json()["version"] == 1
    boxes = _expected_schema("detection", ["bird", "cat", "dog", "horse"])
    boxes["title"] = "our boxes"
    site.create_schema("pics", "schema-notes", {"type": "object"})
    boxes_uuid = site.create_schema("pics", "schema-boxes", boxes)
    boxes["description"] = "second version"
    requests.patch(f"{site.base}/datasets/pics/schemas/schema-boxes", headers=site.headers,
                   json={"schema": _b64(json.dumps(boxes))}, timeout=30)
    rejected = [e for e in site.events("pics", pending=True) if e["type"] ==
                "ObjectUpdateEvent" and e["object"]["name"] == "schema-boxes"]
    site.review("pics", rejected[0]["uuid"], accept=False)  # newest live version: 0
    count = len(site.events("pics"))

    first = site.import_labels("pics", "voc", root, remote=remote)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == _summary("pics", 0, 3, 3, 0,
                                                     "schema schema-boxes version 0 used")
    new_events = site.events("pics")[count:]
    assert [e["type"] for e in new_events] == ["AnnotationCreateEvent"] * 3  # nothing else
    links = {}
    for event in new_events:
        assert event["annotation"]["schema"] == {"uuid": boxes_uuid, "version": 0}
        (target,) = event["object_identifiers"]
        links[target["uuid"]] = target["version"]
    assert links[old_uuid] == 1  # the version holding a.png's bytes
    assert sorted(links.values()) == [0, 0, 1]

    # An annotation rejected is not "already there": the next run proposes it again.
    site.review("pics", new_events[0]["uuid"], accept=False)
    again = site.import_labels("pics", "voc", root, remote=remote)
    assert again.stdout.splitlines()[-1] == _summary("pics", 0, 3, 1, 2,
                                                     "schema schema-boxes version 0 used")
    (proposed,) = site.events("pics")[count + 4:]
    assert proposed["object_identifiers"] == new_events[0]["object_identifiers"]


# --- malformed input: one line per problem, nothing stored ---------------------------------------


def _blob_files(data_dir: Path) -> int:
    return sum(1 for path in (data_dir / "blobs").rglob("*") if path.is_file())


def test_bad_input_stores_nothing(site_of: Any, tmp_path: Path) -> None:
    site = site_of("sqlite-files")
    site.create_dataset("pics")
    site.create_schema("pics", "schema-detection", _expected_schema("detection", ["cat", "dog"]))

    broken = data.write_coco(tmp_path / "coco")
    broken.write_text('{"images": [\n  {"id": 1, "file_name": "a.png"}\n  {"id": 2}]}')
    yolo = data.write_yolo(tmp_path / "yolo")
    with open(yolo / "labels" / "sub" / "b.txt", "a") as handle:
        handle.write("\n1 0.5 0.5 0.25\n")
    voc = data.write_voc(tmp_path / "voc")
    (voc / "Annotations" / "sub_b.xml").write_text(
        data.voc_xml("sub/b.jpg", 80, 60, [("cat", 1, 1, 5, 5)], size=False))
    outside = data.write_voc(tmp_path / "outside")  # "bird" is not in the schema's enum
    cases = [
        ("coco", broken, f"gonk-api: {broken}:line 3 column 3: not valid JSON: Expecting ',' "
                         "delimiter"),
        ("yolo", yolo, f"gonk-api: {yolo / 'labels' / 'sub' / 'b.txt'}:line 3: expected 5 "
                       "numbers (class x_center y_center width height), found 4"),
        ("voc", voc, f"gonk-api: {voc / 'Annotations' / 'sub_b.xml'}:annotation: no <size> (the "
                     "image's <width> and <height>)"),
        ("voc", outside, f"gonk-api: {outside / 'Annotations' / 'sub_b.xml'}:"
                         "annotation/object[1]: label \"bird\" is not in the classes of "
                         "schema-detection (cat, dog)"),
    ]
    events = site.events("pics")
    blobs = _blob_files(site.site.data_dir)
    for label_format, path, line in cases:
        for remote in (False, True):
            refused = site.import_labels("pics", label_format, path, remote=remote)
            assert refused.returncode == 1, refused.stdout
            assert refused.stderr.splitlines() == [line, "Nothing was imported: 1 problem "
                                                         "(above)."]
            assert refused.stdout == ""
            assert site.events("pics") == events  # nothing stored at all
            assert site.get("pics", "/objects") == []
            assert _blob_files(site.site.data_dir) == blobs

    # Several problems: one line each, in file order.
    (yolo / "labels" / "a.txt").write_text("9 0.5 0.5 0.5 0.5\n")
    refused = site.import_labels("pics", "yolo", yolo)
    assert refused.stderr.splitlines() == [
        f"gonk-api: {yolo / 'labels' / 'a.txt'}:line 1: class 9 is not in the class list "
        "(0 to 2)",
        f"gonk-api: {yolo / 'labels' / 'sub' / 'b.txt'}:line 3: expected 5 numbers (class "
        "x_center y_center width height), found 4",
        "Nothing was imported: 2 problems (above)."]

    # A schema named schema-<kind> that does not declare the kind cannot be used or created.
    site.create_dataset("plain")
    site.create_schema("plain", "schema-segmentation", {"type": "object"})
    clash = site.import_labels("plain", "coco", data.write_coco(tmp_path / "fine"))
    assert clash.returncode == 1
    assert 'schema-segmentation does not declare "x-gonk-kind": "segmentation"' in clash.stderr
    assert site.get("plain", "/objects") == []


def test_command_line_options_and_mistakes(site_of: Any, tmp_path: Path) -> None:
    site = site_of("sqlite-files")
    path = data.write_coco(tmp_path / "coco")
    site.create_dataset("boxes")  # --kind detection: a COCO file with polygons, as boxes
    boxes = site.import_labels("boxes", "coco", path, "--kind", "detection", remote=True)
    assert boxes.stdout.splitlines()[-1] == _summary("boxes", 3, 0, 3, 0,
                                                     "schema schema-detection created")
    assert {name: found["document"] for name, found in _by_object(site, "boxes").items()} == \
        data.coco_documents("detection")
    moved = tmp_path / "pictures"  # --images: the images elsewhere
    (tmp_path / "coco").rename(moved)
    (tmp_path / "labels").mkdir()
    (moved / "instances.json").rename(tmp_path / "labels" / "instances.json")
    elsewhere = site.import_labels("boxes", "coco", tmp_path / "labels" / "instances.json",
                                   "--images", moved, "--kind", "detection")
    assert elsewhere.stdout.splitlines()[-1] == _summary(
        "boxes", 0, 3, 0, 3, "schema schema-detection version 0 used")
    path = tmp_path / "labels" / "instances.json"
    run = site.gonk_proc.run_cli
    where = {"data_dir": site.site.data_dir, "env": site.site.env}
    no_user = run("import-labels", "pics", "--format", "coco", path, **where)
    assert no_user.returncode == 1 and "needs --user NAME" in no_user.stderr
    unknown = site.import_labels("nope", "coco", path)
    assert unknown.returncode == 1 and "No dataset named nope" in unknown.stderr
    unknown = site.import_labels("nope", "coco", path, remote=True)
    assert unknown.returncode == 1 and "404: No dataset named nope" in unknown.stderr
    kind = site.import_labels("boxes", "voc", tmp_path, "--kind", "segmentation")
    assert kind.returncode == 1 and "(--kind segmentation is for COCO only)" in kind.stderr
    bad_format = site.import_labels("boxes", "csv", path)
    assert bad_format.returncode == 2 and "'csv' is not one of" in bad_format.stderr
    for done in (no_user, unknown, kind, bad_format):
        assert "Traceback" not in done.stderr


# --- through the label export: pycocotools, YOLO and VOC files ---------------------------------


def _imported_and_released(site: Site, label_format: str, path: Path) -> None:
    site.create_dataset("pics")
    done = site.import_labels("pics", label_format, path)
    assert done.returncode == 0, done.stderr
    assert site.review_all("pics") == 7
    site.release("pics", "r1")


def _export(site: Site, label_format: str, out: Path) -> None:
    done = site.gonk_proc.run_cli("export", "pics", "--release", "r1", "--format", label_format,
                                  "--out", out, data_dir=site.site.data_dir, env=site.site.env)
    assert done.returncode == 0, done.stderr


def _close(a: list[float], b: list[float], tolerance: float = 1e-3) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, abs_tol=tolerance)
                                    for x, y in zip(a, b, strict=True))


def test_coco_round_trip_through_the_export(site_of: Any, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    site = site_of("sqlite-files")
    source = data.write_coco(tmp_path / "coco")
    _imported_and_released(site, "coco", source)
    _export(site, "coco", tmp_path / "out")
    (exported,) = [p for p in (tmp_path / "out").rglob("*.json")
                   if {"images", "categories"} <= set(json.loads(p.read_text()))]
    theirs, ours = COCO(str(source)), COCO(str(exported))

    def shapes(coco: Any) -> dict[str, list[tuple[str, list[float], list[list[float]]]]]:
        names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
        found = {}
        for image in coco.loadImgs(coco.getImgIds()):
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
            found[image["file_name"]] = sorted(
                (names[a["category_id"]], a["bbox"], a["segmentation"]) for a in anns)
        return found

    mine, expected = shapes(ours), shapes(theirs)
    assert {Path(name).as_posix().removeprefix("images/") for name in mine} == set(expected)
    for name, labels in mine.items():
        wanted = expected[Path(name).as_posix().removeprefix("images/")]
        assert [(n, s) for n, _, s in labels] == [(n, s) for n, _, s in wanted]
        assert all(_close(b, c) for (_, b, _), (_, c, _) in zip(labels, wanted, strict=True))
    assert [c["name"] for c in ours.loadCats(ours.getCatIds())] == data.COCO_CLASSES
    for annotation in ours.loadAnns(ours.getAnnIds()):  # pycocotools makes the masks too
        assert ours.annToMask(annotation).sum() > 0

    # And the export imports again to the same documents.
    site.create_dataset("again")
    back = site.import_labels("again", "coco", exported)
    assert back.returncode == 0, back.stderr
    assert {name: found["document"] for name, found in _by_object(site, "again").items()} == \
        data.coco_documents("segmentation")


def _by_object(site: Site, dataset: str) -> dict[str, Any]:
    stored = site.stored(dataset)
    names = {meta["uuid"]: name for name, meta in stored["objects"].items()}
    return {names[found["event"]["object_identifiers"][0]["uuid"]]: found
            for found in stored["annotations"]}


def test_yolo_round_trip_through_the_export(site_of: Any, tmp_path: Path) -> None:
    site = site_of("sqlite-files")
    source = data.write_yolo(tmp_path / "yolo")
    _imported_and_released(site, "yolo", source)
    out = tmp_path / "out"
    _export(site, "yolo", out)
    assert (out / "classes.txt").read_text().split() == data.YOLO_NAMES
    for name, lines in data.YOLO_LINES.items():
        label = (out / "labels" / name).with_suffix(".txt")
        got = [[float(v) for v in line.split()] for line in
               (label.read_text().splitlines() if label.exists() else []) if line.strip()]
        wanted = [[float(v) for v in line.split()] for line in lines or []]
        assert len(got) == len(wanted), name
        for g, w in zip(sorted(got), sorted(wanted), strict=True):
            assert g[0] == w[0] and _close(g[1:], w[1:], 1e-4), (name, got, wanted)
    # The export imports again to the same documents.
    shutil.rmtree(source)
    site.create_dataset("again")
    back = site.import_labels("again", "yolo", out)
    assert back.returncode == 0, back.stderr
    assert {name: found["document"] for name, found in _by_object(site, "again").items()} == \
        data.YOLO_DOCUMENTS


def test_voc_round_trip_through_the_export(site_of: Any, tmp_path: Path) -> None:
    site = site_of("sqlite-files")
    source = data.write_voc(tmp_path / "voc")
    _imported_and_released(site, "voc", source)
    out = tmp_path / "out"
    _export(site, "voc", out)
    found = {}
    for xml in (out / "Annotations").rglob("*.xml"):
        root = ElementTree.parse(xml).getroot()
        name = (root.findtext("path") or root.findtext("filename") or "").strip()
        size = root.find("size")
        assert size is not None
        boxes = sorted((o.findtext("name"), *(float(o.findtext(f"bndbox/{t}") or "nan")
                                                for t in ("xmin", "ymin", "xmax", "ymax")))
                       for o in root.findall("object"))
        found[xml.relative_to(out / "Annotations").with_suffix("").as_posix()] = (
            name, int(size.findtext("width") or 0), int(size.findtext("height") or 0), boxes)
    assert len(found) == 3
    for name, boxes in data.VOC_BOXES.items():
        (entry,) = [v for k, v in found.items() if name.rsplit(".", 1)[0] in (k, v[0])
                    or v[0].endswith(name)]
        assert entry[1:3] == data.IMAGES[name][:2]
        assert entry[3] == sorted((label, float(a), float(b), float(c), float(d))
                                  for label, a, b, c, d in boxes)
    site.create_dataset("again")
    back = site.import_labels("again", "voc", out)
    assert back.returncode == 0, back.stderr
    assert {name: found["document"] for name, found in _by_object(site, "again").items()} == \
        data.VOC_DOCUMENTS
