"""The standard label kinds (domain/label_kinds.py): the reference schemas are valid schemas
that accept their examples, `x-gonk-kind` is checked, labels are read out of documents, class
lists follow the enum (else sorted labels), and COCO RLE masks decode to the same area and box
as pycocotools computes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gonk.domain import content, label_kinds
from gonk.domain.errors import DoesNotConform


@pytest.mark.parametrize("kind", label_kinds.KINDS)
def test_each_reference_schema_is_valid_and_accepts_its_example(kind: str) -> None:
    schema = label_kinds.template(kind)
    content.check_schema(json.dumps(schema).encode())
    assert label_kinds.declared_kind(schema) == kind
    assert label_kinds.misfit(kind, label_kinds.EXAMPLES[kind]) is None
    assert label_kinds.labels_of(kind, label_kinds.EXAMPLES[kind])


def test_template_is_a_copy() -> None:
    first = label_kinds.template("detection")
    first["properties"].clear()
    assert label_kinds.template("detection")["properties"]


@pytest.mark.parametrize("value", ["boxes", "", 3, None, ["detection"]])
def test_unknown_kind_is_refused(value: object) -> None:
    with pytest.raises(DoesNotConform, match="x-gonk-kind"):
        content.check_schema(json.dumps({"type": "object", "x-gonk-kind": value}).encode())


@pytest.mark.parametrize("kind,document,where", [
    ("detection", {"boxes": [{"label": "a", "bbox": [0, 0, -1, 2]}]}, "/boxes/0/bbox/2"),
    ("detection", {"boxes": [{"bbox": [0, 0, 1, 2]}]}, "/boxes/0"),
    ("detection", {}, "/"),
    ("classification", {"labels": []}, "/labels"),
    ("segmentation", {"instances": [{"label": "a"}]}, "/instances/0"),
    ("segmentation", {"instances": [{"label": "a", "polygons": [[[0, 0], [1, 1]]]}]},
     "/instances/0/polygons/0"),
    ("segmentation", {"instances": [{"label": "a", "rle": {"size": [2, 2], "counts": [1, 1]}}]},
     "/instances/0/rle"),
    ("keypoints", {"instances": [{"label": "p", "points": [{"name": "n", "x": 1}]}]},
     "/instances/0/points/0"),
    ("caption", {"captions": [""]}, "/captions/0"),
])
def test_misfits_name_the_place(kind: str, document: object, where: str) -> None:
    reason = label_kinds.misfit(kind, document)
    assert reason is not None and reason.startswith(f"at '{where}'"), reason


def test_labels_and_counts() -> None:
    document = {"boxes": [{"label": "cat", "bbox": [1, 2, 3, 4], "score": 0.25,
                           "attributes": {"occluded": True}},
                          {"label": "cat", "bbox": [0, 0, 1, 1]},
                          {"label": "dog", "bbox": [0, 0, 1, 1]}]}
    labels = label_kinds.labels_of("detection", document)
    assert labels[0] == label_kinds.Label("cat", bbox=(1, 2, 3, 4), score=0.25,
                                          attributes={"occluded": True})
    assert label_kinds.label_counts("detection", document) == {"cat": 2, "dog": 1}
    assert label_kinds.label_counts("caption", {"captions": ["x"]}) == {}


def test_class_list_is_the_enum_else_sorted_labels() -> None:
    narrowed = label_kinds.template("detection")
    narrowed["properties"]["boxes"]["items"]["properties"]["label"]["enum"] = ["zebra", "ant"]
    assert label_kinds.schema_classes("detection", narrowed) == ["zebra", "ant"]
    assert label_kinds.class_list([("detection", narrowed)], {"ant"}) == ["zebra", "ant"]
    plain = label_kinds.template("detection")
    assert label_kinds.class_list([("detection", plain)], {"b", "a"}) == ["a", "b"]
    # one schema without an enum: the union, sorted
    assert label_kinds.class_list([("detection", narrowed), ("detection", plain)],
                                  {"moth"}) == ["ant", "moth", "zebra"]


def test_shapes() -> None:
    square = ((0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0))
    assert label_kinds.polygon_area(square) == 16
    assert label_kinds.points_bbox([(1, 5), (3, 2)]) == (1, 2, 2, 3)
    assert label_kinds.rle_area_bbox({"size": [3, 3], "counts": [9]}) == (0, None)
    with pytest.raises(ValueError):
        label_kinds.rle_counts({"size": [1, 1], "counts": "\x7f"})


def test_rle_matches_pycocotools() -> None:
    """Random masks, compressed by pycocotools: the same area and box, from the string form
    and from the list of runs (run in a subprocess: pycocotools needs numpy)."""
    pytest.importorskip("pycocotools")
    script = """
import json, random, numpy as np
from pycocotools import mask as m
random.seed(7)
out = []
for _ in range(30):
    h, w = random.randint(1, 40), random.randint(1, 40)
    a = np.zeros((h, w), dtype=np.uint8, order="F")
    for _ in range(random.randint(0, 4)):
        y, x = random.randrange(h), random.randrange(w)
        a[y:y + random.randint(1, h), x:x + random.randint(1, w)] = 1
    rle = m.encode(a)
    out.append({"size": [h, w], "counts": rle["counts"].decode(),
                "area": int(m.area(rle)), "bbox": [int(v) for v in m.toBbox(rle)]})
print(json.dumps(out))
"""
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True)
    for case in json.loads(found.stdout):
        rle = {"size": case["size"], "counts": case["counts"]}
        area, box = label_kinds.rle_area_bbox(rle)
        assert area == case["area"]
        assert (list(box) if box else [0, 0, 0, 0]) == case["bbox"], case
        runs = label_kinds.rle_counts(rle)
        assert label_kinds.rle_area_bbox({"size": case["size"], "counts": runs}) == (area, box)
