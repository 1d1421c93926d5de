"""The readers of `gonk-api import-labels` (gonk/labels/importing.py): COCO, YOLO and Pascal VOC
files made by the tests (real PNG and JPEG images) turned into label_kinds documents, and every
kind of malformed input reported as `<file>:<place>: <what>`, never raised."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from gonk.domain import label_kinds
from gonk.labels import importing
from gonk.labels.importing import Plan, Problem, read_labels
from tests.support import label_data as data


def _documents(plan: Plan) -> dict[str, Any]:
    assert plan.problems == []
    return {image.name: image.document for image in plan.images}


def _lines(plan: Plan) -> list[str]:
    return [problem.line() for problem in plan.problems]


# --- COCO ---------------------------------------------------------------------------------------


def test_coco_polygons_import_as_segmentation_with_classes_by_id(tmp_path: Path) -> None:
    path = data.write_coco(tmp_path)
    plan = read_labels("coco", path)
    assert plan.kind == "segmentation"
    assert plan.classes == data.COCO_CLASSES  # categories by id: cat (3), dog (7), bird (9)
    assert _documents(plan) == data.coco_documents("segmentation")
    assert [image.name for image in plan.images] == list(data.IMAGES)  # the file's order
    assert plan.images[1].path == tmp_path / "sub" / "b.jpg"
    for image in plan.images:
        assert label_kinds.misfit("segmentation", image.document) is None
    a = plan.images[0]
    assert [(label.label, label.place) for label in a.labels] == [
        ("cat", "annotations[0]"), ("dog", "annotations[1]")]


def test_coco_boxes_import_as_detection_and_kind_can_be_chosen(tmp_path: Path) -> None:
    boxes_only = tmp_path / "boxes"
    plan = read_labels("coco", data.write_coco(boxes_only, with_polygons=False))
    assert plan.kind == "detection"
    assert _documents(plan) == data.coco_documents("detection")
    chosen = read_labels("coco", data.write_coco(tmp_path / "polygons"), kind="detection")
    assert chosen.kind == "detection"
    assert _documents(chosen) == data.coco_documents("detection")


def test_coco_score_attributes_crowd_and_rle(tmp_path: Path) -> None:
    coco = data.coco_data()
    first, second, third = coco["annotations"]
    first["score"] = 0.75
    second["attributes"] = {"occluded": True}
    third["iscrowd"] = 1
    third["segmentation"] = {"size": [60, 80], "counts": [100, 20, 4680]}
    compressed = {"size": [4, 4], "counts": "52203"}  # pycocotools' string form
    coco["annotations"].append({"id": 99, "image_id": 30, "category_id": 3, "iscrowd": 1,
                                "bbox": [0, 0, 1, 1], "segmentation": compressed})
    data.make_images(tmp_path)
    (tmp_path / "in.json").write_text(json.dumps(coco))
    documents = _documents(read_labels("coco", tmp_path / "in.json"))
    assert documents["a.png"]["instances"][0]["score"] == 0.75
    assert documents["a.png"]["instances"][1]["attributes"] == {"occluded": True}
    assert documents["sub/b.jpg"]["instances"] == [
        {"label": "bird", "rle": {"size": [60, 80], "counts": [100, 20, 4680]}, "iscrowd": True}]
    assert documents["c.png"]["instances"] == [
        {"label": "cat", "rle": compressed, "iscrowd": True}]
    boxes = _documents(read_labels("coco", tmp_path / "in.json", kind="detection"))
    assert boxes["a.png"]["boxes"][0] == {"label": "cat", "bbox": [10, 5, 20, 20], "score": 0.75}


def test_coco_images_resolve_beside_or_in_the_images_folder(tmp_path: Path) -> None:
    path = data.write_coco(tmp_path / "beside", images_beside=True)  # ./images/<file_name>
    plan = read_labels("coco", path)
    assert plan.images[1].path == tmp_path / "beside" / "images" / "sub" / "b.jpg"
    assert [image.name for image in plan.images] == list(data.IMAGES)
    elsewhere = tmp_path / "elsewhere"
    data.make_images(elsewhere)
    (tmp_path / "alone.json").write_text(json.dumps(data.coco_data()))
    plan = read_labels("coco", tmp_path / "alone.json", images=elsewhere)
    assert plan.problems == [] and plan.images[0].path == elsewhere / "a.png"
    missing = read_labels("coco", tmp_path / "alone.json")
    assert _lines(missing)[0] == (
        f"gonk-api: {tmp_path / 'alone.json'}:images[0]: no image file \"a.png\" in "
        f"{tmp_path} or {tmp_path / 'images'}")


def test_broken_coco_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"images": [\n  {"id": 1, "file_name": "a.png"}\n  {"id": 2}]}')
    plan = read_labels("coco", path)
    assert _lines(plan) == [f"gonk-api: {path}:line 3 column 3: not valid JSON: Expecting "
                            "',' delimiter"]
    assert plan.images == []
    path.write_text('{"images": [], "categories": [], "annotations": [NaN]}')
    assert "not valid JSON" in _lines(read_labels("coco", path))[0]
    path.write_text('[1, 2]')
    assert _lines(read_labels("coco", path)) == [
        f'gonk-api: {path}:/: a COCO file is a JSON object {{"images": [...], '
        f'"annotations": [...], "categories": [...]}}']
    path.write_text('{"images": []}')
    assert _lines(read_labels("coco", path)) == [f"gonk-api: {path}:categories: missing"]


@pytest.mark.parametrize(("change", "place", "what"), [
    (lambda c: c["annotations"][1].update(category_id=5), "annotations[1]",
     "category_id 5 names no category of the file"),
    (lambda c: c["annotations"][2].update(image_id=77), "annotations[2]",
     "image_id 77 names no image of the file"),
    (lambda c: c["annotations"][0].update(segmentation=[[1, 2, 3, 4]]),
     "annotations[0].segmentation[0]",
     "a polygon is an even count (at least 6) of numbers x1, y1, x2, y2, ...; this one has 4"),
    (lambda c: c["annotations"][0].update(segmentation=[]), "annotations[0]",
     "no segmentation (polygons or RLE); import with --kind detection to keep the boxes only"),
    (lambda c: c["annotations"][0].update(iscrowd=2), "annotations[0]",
     "'iscrowd' must be 0 or 1, not 2"),
    (lambda c: c["annotations"][0].update(score=1.5), "annotations[0]",
     "'score' must be a number from 0 to 1, not 1.5"),
    (lambda c: c["categories"].append({"id": 11, "name": "cat"}), "categories[3]",
     'category name "cat" is used by ids 3 and 11'),
    (lambda c: c["categories"].append({"id": 3, "name": "cow"}), "categories[3]",
     "category id 3 is listed twice"),
    (lambda c: c["images"].append(dict(c["images"][0], id=40)), "images[3]",
     'the image "a.png" is listed twice (also at images[0])'),
    (lambda c: c["images"][0].update(file_name="../a.png"), "images[0]",
     'file_name "../a.png" must be a relative path inside the images folder'),
    (lambda c: c["images"][0].update(id="one"), "images[0]",
     '\'id\' must be a whole number, not "one"'),
])
def test_coco_problems_name_the_place(tmp_path: Path, change: Any, place: str,
                                      what: str) -> None:
    coco = data.coco_data()
    change(coco)
    data.make_images(tmp_path)
    path = tmp_path / "in.json"
    path.write_text(json.dumps(coco))
    lines = _lines(read_labels("coco", path))
    assert any(line.startswith(f"gonk-api: {path}:{place}: {what}") for line in lines), lines


def test_coco_boxes_must_be_boxes(tmp_path: Path) -> None:
    coco = data.coco_data(with_polygons=False)
    coco["annotations"][0]["bbox"] = [1, 2, 3]
    coco["annotations"][1]["bbox"] = [1, 2, -3, 4]
    data.make_images(tmp_path)
    path = tmp_path / "in.json"
    path.write_text(json.dumps(coco))
    assert _lines(read_labels("coco", path)) == [
        f"gonk-api: {path}:annotations[0]: 'bbox' must be [x, y, width, height], not [1, 2, 3]",
        f"gonk-api: {path}:annotations[1]: not a detection label: at '/bbox/2': -3 is less "
        "than the minimum of 0"]


# --- YOLO ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("names_as", ["classes.txt", "data.yaml", "data.yaml-map"])
def test_yolo_boxes_in_pixels_from_the_image_headers(tmp_path: Path, names_as: str) -> None:
    plan = read_labels("yolo", data.write_yolo(tmp_path, names_as))
    assert plan.kind == "detection"
    assert plan.classes == data.YOLO_NAMES  # by index, not sorted
    assert _documents(plan) == data.YOLO_DOCUMENTS  # c.png has no label file: no boxes
    assert [(label.label, Path(label.file).name, label.place) for label in plan.images[0].labels
            ] == [("cat", "a.txt", "line 1"), ("dog", "a.txt", "line 2")]


def test_yolo_rounding_scores_and_images_elsewhere(tmp_path: Path) -> None:
    root = data.write_yolo(tmp_path / "set")
    (root / "labels" / "a.txt").write_text("0 0.3333333 0.5 0.1 0.2 0.9\n\n")
    moved = tmp_path / "pictures"
    (root / "images").rename(moved)
    assert "no such folder" in _lines(read_labels("yolo", root))[0]
    plan = read_labels("yolo", root, images=moved)
    boxes = _documents(plan)["a.png"]["boxes"]
    # 64 x 48: x = (0.3333333 - 0.05) * 64, rounded to 4 decimals
    assert boxes == [{"label": "dog", "bbox": [18.1333, 19.2, 6.4, 9.6], "score": 0.9}]


def test_yolo_line_with_4_numbers_and_other_problems(tmp_path: Path) -> None:
    root = data.write_yolo(tmp_path)
    label = root / "labels" / "a.txt"
    label.write_text("1 0.25 0.5 0.25 0.5\n0 0.5 0.5 0.2\n3 0.5 0.5 0.2 0.2\n"
                     "0 0.5 1.5 0.2 0.2\nx 0.5 0.5 0.2 0.2\n0 1 2 3 4 5 6 7\n")
    (root / "labels" / "orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    plan = read_labels("yolo", root)
    assert _lines(plan) == [
        f"gonk-api: {label}:line 2: expected 5 numbers (class x_center y_center width height), "
        "found 4",
        f"gonk-api: {label}:line 3: class 3 is not in the class list (0 to 2)",
        f"gonk-api: {label}:line 4: the coordinates (and score) must be numbers from 0 to 1: "
        '"0 0.5 1.5 0.2 0.2"',
        f"gonk-api: {label}:line 5: expected a class number then 4 numbers: "
        '"x 0.5 0.5 0.2 0.2"',
        f"gonk-api: {label}:line 6: expected 5 numbers (class x_center y_center width height), "
        "found 8 (YOLO polygons are not imported: only boxes)",
        f"gonk-api: {root / 'labels' / 'orphan.txt'}:(file): no image orphan.* beside it in "
        f"{root / 'images'}: its labels would be lost"]


def test_yolo_class_names_problems(tmp_path: Path) -> None:
    root = data.write_yolo(tmp_path, "data.yaml")
    (root / "data.yaml").write_text("names: [dog, cat\n")
    lines = _lines(read_labels("yolo", root))
    assert lines[0].startswith(f"gonk-api: {root / 'data.yaml'}:line 2 column 1: not valid "
                               "YAML:")
    (root / "data.yaml").write_text("nc: 2\n")
    assert _lines(read_labels("yolo", root))[0] == (
        f"gonk-api: {root / 'data.yaml'}:names: missing: 'names' must list the classes (a list, "
        "or a mapping of index to name)")
    (root / "data.yaml").unlink()
    assert _lines(read_labels("yolo", root))[0] == (
        f"gonk-api: {root}:(file): no classes.txt or data.yaml (with 'names') in this folder: "
        "the class names are needed")
    (root / "classes.txt").write_text("dog\n\ndog\n")
    assert _lines(read_labels("yolo", root)) == [
        f"gonk-api: {root / 'classes.txt'}:line 2: an empty class name",
        f'gonk-api: {root / "classes.txt"}:line 3: class name "dog" is also class 0']


def test_yolo_image_that_is_not_an_image(tmp_path: Path) -> None:
    root = data.write_yolo(tmp_path)
    (root / "images" / "a.png").write_bytes(b"not a png at all")
    lines = _lines(read_labels("yolo", root))
    assert len(lines) == 1
    assert lines[0].startswith(f"gonk-api: {root / 'images' / 'a.png'}:(file): not an image "
                               "Pillow can read")


def test_missing_pillow_says_which_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = data.write_yolo(tmp_path)
    monkeypatch.setitem(sys.modules, "PIL", None)  # `from PIL import Image` fails
    with pytest.raises(importing.MissingDependency) as refused:
        read_labels("yolo", root)
    assert str(refused.value) == ("gonk-api: import-labels needs Pillow; pip install "
                                  "'gonk[labels]'")


# --- Pascal VOC ---------------------------------------------------------------------------------


def test_voc_boxes_are_one_based_inclusive(tmp_path: Path) -> None:
    plan = read_labels("voc", data.write_voc(tmp_path))
    assert plan.kind == "detection"
    assert plan.classes == data.VOC_CLASSES  # sorted distinct names
    assert _documents(plan) == data.VOC_DOCUMENTS
    assert plan.images[0].path == tmp_path / "JPEGImages" / "a.png"
    assert [label.place for label in plan.images[0].labels] == [
        "annotation/object[1]", "annotation/object[2]"]
    # The rule's inverse gives the XML's numbers back.
    for name, boxes in data.VOC_BOXES.items():
        documented = data.VOC_DOCUMENTS[name]["boxes"]
        for (_, xmin, ymin, xmax, ymax), box in zip(boxes, documented, strict=True):
            x, y, w, h = box["bbox"]
            assert (x + 1, y + 1, x + w, y + h) == (xmin, ymin, xmax, ymax)


def test_voc_flat_folder_attributes_and_images_beside(tmp_path: Path) -> None:
    data.make_image(tmp_path / "x.jpg", 50, 40, (1, 2, 3))
    xml = data.voc_xml("x.jpg", 50, 40, [("cat", 2.5, 3, 10, 12)]).replace(
        "<difficult>0</difficult>", "<difficult>1</difficult>").replace(
        "<pose>Unspecified</pose>", "<pose>Left</pose>")
    (tmp_path / "x.xml").write_text(xml)
    plan = read_labels("voc", tmp_path)
    assert _documents(plan) == {"x.jpg": {"boxes": [
        {"label": "cat", "bbox": [1.5, 2, 8.5, 10],
         "attributes": {"difficult": True, "pose": "Left"}}]}}


def test_voc_without_size_and_other_problems(tmp_path: Path) -> None:
    root = data.write_voc(tmp_path)
    folder = root / "Annotations"
    (folder / "a.xml").write_text(data.voc_xml("a.png", 64, 48, [("cat", 1, 1, 5, 5)],
                                               size=False))
    (folder / "c.xml").write_text(data.voc_xml("c.png", 40, 40, [("cat", 9, 1, 5, 5)]).replace(
        "<ymax>5</ymax>", "<ymax>five</ymax>"))
    (folder / "d.xml").write_text("<annotation>\n<filename>d.png</filename>\n<size>")
    (folder / "e.xml").write_text(data.voc_xml("missing.png", 4, 4, []))
    (folder / "f.xml").write_text(data.voc_xml("a.png", 4, 0, []))
    lines = _lines(read_labels("voc", root))
    assert lines == [
        f"gonk-api: {folder / 'a.xml'}:annotation: no <size> (the image's <width> and "
        "<height>)",
        f'gonk-api: {folder / "c.xml"}:annotation/object[1]/bndbox: <ymax> is not a number: '
        '"five"',
        f"gonk-api: {folder / 'd.xml'}:line 3 column 7: not well-formed XML: no element found",
        f'gonk-api: {folder / "e.xml"}:annotation/filename: no image file "missing.png" in '
        f"{root / 'JPEGImages'} or {folder}",
        f"gonk-api: {folder / 'f.xml'}:annotation/size/height: must be a whole number of pixels "
        "above 0, not 0.0"]
    (folder / "c.xml").write_text(data.voc_xml("c.png", 40, 40, [("cat", 9, 1, 5, 5)]))
    assert (f"gonk-api: {folder / 'c.xml'}:annotation/object[1]/bndbox: xmax and ymax must be "
            "at least xmin and ymin: (9, 1, 5, 5)") in _lines(read_labels("voc", root))


def test_problem_line_and_format_choices(tmp_path: Path) -> None:
    assert Problem("a.txt", "line 3", "why").line() == "gonk-api: a.txt:line 3: why"
    with pytest.raises(ValueError, match="import as 'detection'"):
        read_labels("yolo", tmp_path, kind="segmentation")
    assert "no .xml files" in _lines(read_labels("voc", tmp_path))[0]
