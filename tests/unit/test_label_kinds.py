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


# --- the direct check (fits) agrees with the reference schemas ----------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-2, 2),
                     st.sampled_from(["", "a", "cat"]))
_json = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.sampled_from(
        ["label", "bbox", "score", "attributes", "labels", "boxes", "instances", "polygons",
         "rle", "size", "counts", "iscrowd", "points", "name", "x", "y", "visible",
         "captions"]), inner, max_size=5)), max_leaves=25)
_number = st.one_of(st.integers(-5, 50), st.floats(-5, 50, allow_nan=False))
_box = st.one_of(st.lists(_number, min_size=3, max_size=5),
                 st.tuples(_number, _number, _number, _number).map(list))
_point = st.one_of(st.tuples(_number, _number).map(list), st.lists(_number, max_size=3))
_label = st.one_of(st.sampled_from(["", "cat", "dog"]), st.integers(0, 2))
_attributes = st.one_of(st.just({}), st.just({"a": 1}), st.just([1]), st.none())


def _maybe(key: str, strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.just({}), strategy.map(lambda v: {key: v}))


def _item(**fields: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(*[_maybe(k, v) for k, v in fields.items()]).map(
        lambda parts: {k: v for part in parts for k, v in part.items()})


_shaped = {
    "classification": _item(labels=st.lists(_label, max_size=3), attributes=_attributes),
    "detection": _item(boxes=st.lists(_item(label=_label, bbox=_box, score=_number,
                                            attributes=_attributes), max_size=3)),
    "segmentation": _item(instances=st.lists(_item(
        label=_label, polygons=st.lists(st.lists(_point, max_size=4), max_size=2),
        rle=st.one_of(_json, st.just({"size": [2, 2], "counts": [0, 4]}),
                  st.just({"size": [2.0, 2], "counts": [0.0, 4]})),
        iscrowd=st.one_of(st.booleans(), st.integers(0, 1)), attributes=_attributes),
        max_size=2)),
    "keypoints": _item(instances=st.lists(_item(
        label=_label, points=st.lists(_item(name=_label, x=_number, y=_number,
                                            visible=st.one_of(st.booleans(), st.none())),
                                      max_size=3),
        bbox=_box, attributes=_attributes), max_size=2)),
    "caption": _item(captions=st.lists(_label, max_size=3)),
}


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(label_kinds.KINDS), data=st.data())
def test_what_fits_directly_conforms_to_the_reference_schema(kind: str, data: st.DataObject
                                                             ) -> None:
    document = data.draw(st.one_of(_shaped[kind], _json))
    errors = list(label_kinds._validator(kind).iter_errors(document))
    if label_kinds.fits(kind, document):
        assert errors == [], (document, errors[0].message)
    else:
        # (never looser; and here, where it matters for speed, no stricter either)
        assert errors, document
