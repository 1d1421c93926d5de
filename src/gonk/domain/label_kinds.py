"""Standard label kinds: reference JSON Schemas for the common kinds of labels, and the labels
read out of an annotation of such a kind.

A schema declares its kind with the top-level keyword `"x-gonk-kind"` (one of KINDS); an
unknown kind is refused (422) when the schema is created. An annotation of a kind schema must
conform to its own schema *and* to the kind's reference schema (REFERENCE_SCHEMAS): a schema
may narrow the reference (an `enum` of labels, required attributes) but not change its shape,
so that every export format and the statistics can read its labels.

The shapes (coordinates in pixels, from the image's top-left corner; x to the right, y down):

    classification  {"labels": ["cat", "indoor"]}                     one or more class labels
    detection       {"boxes": [{"label": "cat", "bbox": [x, y, width, height],
                                "score": 0.9, "attributes": {...}}]}  score, attributes optional
    segmentation    {"instances": [{"label": "cat",
                                    "polygons": [[[x, y], [x, y], [x, y], ...], ...],
                                    "rle": {"size": [height, width], "counts": "..." or [...]},
                                    "iscrowd": false, "attributes": {...}}]}
                    each instance has polygons, an RLE mask (COCO's run-length encoding,
                    compressed string or list of counts), or both
    keypoints       {"instances": [{"label": "person",
                                    "points": [{"name": "nose", "x": 10, "y": 20,
                                                "visible": true}, ...],
                                    "bbox": [x, y, width, height], "attributes": {...}}]}
    caption         {"captions": ["A cat on a sofa."]}

**Class list**: where the kind's schema narrows the label with an `enum` at the place
LABEL_ENUM_PATHS names, the dataset's classes are that enum, in its order; otherwise they are
the sorted distinct labels of the exported content (class_list).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from sys import intern  # (labels repeat: one string each in a large export)
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

KIND_KEYWORD = "x-gonk-kind"
CLASSIFICATION, DETECTION, SEGMENTATION, KEYPOINTS, CAPTION = (
    "classification", "detection", "segmentation", "keypoints", "caption")
KINDS = (CLASSIFICATION, DETECTION, SEGMENTATION, KEYPOINTS, CAPTION)
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_LABEL = {"type": "string", "minLength": 1, "description": "The class label."}
_NUMBER = {"type": "number"}
_BBOX = {
    "type": "array",
    "description": "[x, y, width, height] in pixels; (x, y) is the top-left corner.",
    "prefixItems": [_NUMBER, _NUMBER, {"type": "number", "minimum": 0},
                    {"type": "number", "minimum": 0}],
    "minItems": 4, "maxItems": 4,
}
_ATTRIBUTES = {"type": "object", "description": "Free-form attributes of the label."}
_POINT = {"type": "array", "prefixItems": [_NUMBER, _NUMBER], "minItems": 2, "maxItems": 2,
          "description": "[x, y] in pixels."}
_RLE = {
    "type": "object",
    "description": "A COCO run-length encoded mask: size is [height, width]; counts is the "
                   "compressed string or the list of run lengths (column by column).",
    "required": ["size", "counts"],
    "properties": {
        "size": {"type": "array", "prefixItems": [{"type": "integer", "minimum": 1},
                                                  {"type": "integer", "minimum": 1}],
                 "minItems": 2, "maxItems": 2},
        "counts": {"oneOf": [{"type": "string"},
                             {"type": "array", "items": {"type": "integer", "minimum": 0}}]},
    },
}


def _schema(kind: str, title: str, body: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"$schema": DIALECT, "title": title, KIND_KEYWORD: kind, "type": "object",
            "required": required, "properties": body}


REFERENCE_SCHEMAS: dict[str, dict[str, Any]] = {
    CLASSIFICATION: _schema(CLASSIFICATION, "Classification: one or more class labels", {
        "labels": {"type": "array", "minItems": 1, "uniqueItems": True, "items": _LABEL},
        "attributes": _ATTRIBUTES,
    }, ["labels"]),
    DETECTION: _schema(DETECTION, "Detection: labelled boxes", {
        "boxes": {"type": "array", "items": {
            "type": "object", "required": ["label", "bbox"],
            "properties": {"label": _LABEL, "bbox": _BBOX,
                           "score": {"type": "number", "minimum": 0, "maximum": 1},
                           "attributes": _ATTRIBUTES}}},
    }, ["boxes"]),
    SEGMENTATION: _schema(SEGMENTATION, "Segmentation: polygons or masks per label", {
        "instances": {"type": "array", "items": {
            "type": "object", "required": ["label"],
            "anyOf": [{"required": ["polygons"]}, {"required": ["rle"]}],
            "properties": {
                "label": _LABEL,
                "polygons": {"type": "array", "minItems": 1, "items": {
                    "type": "array", "minItems": 3, "items": _POINT}},
                "rle": _RLE,
                "iscrowd": {"type": "boolean"},
                "attributes": _ATTRIBUTES}}},
    }, ["instances"]),
    KEYPOINTS: _schema(KEYPOINTS, "Keypoints: named points per instance", {
        "instances": {"type": "array", "items": {
            "type": "object", "required": ["label", "points"],
            "properties": {
                "label": _LABEL,
                "points": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["name", "x", "y"],
                    "properties": {"name": {"type": "string", "minLength": 1}, "x": _NUMBER,
                                   "y": _NUMBER, "visible": {"type": "boolean"}}}},
                "bbox": _BBOX,
                "attributes": _ATTRIBUTES}}},
    }, ["instances"]),
    CAPTION: _schema(CAPTION, "Caption: text describing the object", {
        "captions": {"type": "array", "minItems": 1,
                     "items": {"type": "string", "minLength": 1}},
    }, ["captions"]),
}

EXAMPLES: dict[str, dict[str, Any]] = {
    CLASSIFICATION: {"labels": ["cat", "indoor"]},
    DETECTION: {"boxes": [{"label": "cat", "bbox": [12, 30, 200, 150], "score": 0.97},
                          {"label": "dog", "bbox": [220, 40, 90, 120]}]},
    SEGMENTATION: {"instances": [{"label": "cat",
                                  "polygons": [[[12, 30], [212, 30], [212, 180], [12, 180]]]}]},
    KEYPOINTS: {"instances": [{"label": "person", "bbox": [40, 20, 60, 160],
                               "points": [{"name": "nose", "x": 70, "y": 35},
                                          {"name": "left_eye", "x": 66, "y": 30,
                                           "visible": False}]}]},
    CAPTION: {"captions": ["A grey cat asleep on a red sofa."]},
}

LABEL_ENUM_PATHS: dict[str, tuple[str, ...]] = {
    CLASSIFICATION: ("properties", "labels", "items", "enum"),
    DETECTION: ("properties", "boxes", "items", "properties", "label", "enum"),
    SEGMENTATION: ("properties", "instances", "items", "properties", "label", "enum"),
    KEYPOINTS: ("properties", "instances", "items", "properties", "label", "enum"),
}
"""Where a kind schema lists its classes (an `enum` of strings), if it does."""

KEYPOINT_NAMES_PATH = ("properties", "instances", "items", "properties", "points", "items",
                       "properties", "name", "enum")
"""Where a keypoints schema lists its point names, in order (COCO's category "keypoints")."""



@cache
def _validator(kind: str) -> Draft202012Validator:
    """The reference schema's validator, made on first use (jsonschema is imported then: the
    command line's start does not wait for it)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(REFERENCE_SCHEMAS[kind])


class UnknownKind(ValueError):
    """A schema's x-gonk-kind that is not one of KINDS."""


def declared_kind(schema: Any) -> str | None:
    """The kind a schema document declares (None: none). UnknownKind for a value that is not
    one of KINDS."""
    if not isinstance(schema, dict) or KIND_KEYWORD not in schema:
        return None
    kind = schema[KIND_KEYWORD]
    if kind not in KINDS:
        raise UnknownKind(f"The schema's {KIND_KEYWORD} is {json.dumps(kind)[:80]}; the label "
                          f"kinds are {', '.join(KINDS)}.")
    return str(kind)


def template(kind: str) -> dict[str, Any]:
    """A copy of the kind's reference schema, to start a dataset's schema from."""
    return copy.deepcopy(REFERENCE_SCHEMAS[kind])


def misfit(kind: str, document: Any) -> str | None:
    """Why `document` does not have the kind's shape (None: it has). The reference schema
    decides; a direct check of the same rules (fits) answers first for the documents that fit,
    at a fraction of a general validator's cost per document (an export reads many)."""
    if not fits(kind, document):
        error = next(iter(sorted(_validator(kind).iter_errors(document),
                                 key=lambda e: list(map(str, e.absolute_path)))), None)
        if error is not None:
            where = "".join(f"/{part}" for part in error.absolute_path)
            return f"at '{where or '/'}': {error.message[:300]}"
    if kind == SEGMENTATION:
        for index, instance in enumerate(document["instances"]):
            if "rle" in instance:
                try:
                    rle_area_bbox(instance["rle"])
                except ValueError as exc:
                    return f"at '/instances/{index}/rle': {exc}"
    return None


# - the reference schemas' rules, written out (never looser: tests/unit/test_label_kinds.py
#   checks against the schemas that whatever fits here validates there) -

def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 1


def _attributes_ok(item: dict[str, Any]) -> bool:
    return "attributes" not in item or isinstance(item["attributes"], dict)


def _box_ok(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 4 and all(_number(v) for v in value)
            and value[2] >= 0 and value[3] >= 0)


def _point_ok(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and _number(value[0]) \
        and _number(value[1])


def _whole(value: Any, least: int) -> bool:
    """JSON Schema's "integer": 2 and 2.0 both are."""
    return (_number(value) and (isinstance(value, int) or value.is_integer())
            and value >= least)


def _rle_ok(value: Any) -> bool:
    if not isinstance(value, dict) or "size" not in value or "counts" not in value:
        return False
    size, counts = value["size"], value["counts"]
    return (isinstance(size, list) and len(size) == 2 and all(_whole(v, 1) for v in size)
            and (isinstance(counts, str)
                 or (isinstance(counts, list) and all(_whole(c, 0) for c in counts))))


def _list_of(document: Any, key: str, least: int = 0) -> list[Any] | None:
    if not isinstance(document, dict):
        return None
    found = document.get(key)
    return found if isinstance(found, list) and len(found) >= least else None


def fits(kind: str, document: Any) -> bool:
    """True when `document` certainly has the kind's shape (False: ask the schema)."""
    if kind == CLASSIFICATION:
        labels = _list_of(document, "labels", 1)
        return (labels is not None and all(_text(v) for v in labels)
                and len(set(labels)) == len(labels) and _attributes_ok(document))
    if kind == DETECTION:
        boxes = _list_of(document, "boxes")
        return boxes is not None and all(
            isinstance(b, dict) and _text(b.get("label")) and _box_ok(b.get("bbox"))
            and ("score" not in b or (_number(b["score"]) and 0 <= b["score"] <= 1))
            and _attributes_ok(b) for b in boxes)
    if kind == SEGMENTATION:
        instances = _list_of(document, "instances")
        return instances is not None and all(
            isinstance(i, dict) and _text(i.get("label"))
            and ("polygons" in i or "rle" in i)
            and ("polygons" not in i or (
                isinstance(i["polygons"], list) and len(i["polygons"]) >= 1
                and all(isinstance(p, list) and len(p) >= 3 and all(_point_ok(q) for q in p)
                        for p in i["polygons"])))
            and ("rle" not in i or _rle_ok(i["rle"]))
            and ("iscrowd" not in i or isinstance(i["iscrowd"], bool))
            and _attributes_ok(i) for i in instances)
    if kind == KEYPOINTS:
        instances = _list_of(document, "instances")
        return instances is not None and all(
            isinstance(i, dict) and _text(i.get("label"))
            and isinstance(i.get("points"), list) and len(i["points"]) >= 1
            and all(isinstance(p, dict) and _text(p.get("name")) and _number(p.get("x"))
                    and _number(p.get("y"))
                    and ("visible" not in p or isinstance(p["visible"], bool))
                    for p in i["points"])
            and ("bbox" not in i or _box_ok(i["bbox"])) and _attributes_ok(i)
            for i in instances)
    if kind == CAPTION:
        captions = _list_of(document, "captions", 1)
        return captions is not None and all(_text(c) for c in captions)
    return False


def _enum_at(schema: Any, path: tuple[str, ...]) -> list[str] | None:
    node = schema
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if isinstance(node, list) and node and all(isinstance(v, str) for v in node):
        return list(dict.fromkeys(node))
    return None


def schema_classes(kind: str, schema: Any) -> list[str] | None:
    """The classes a kind schema lists in its label `enum` (in its order), or None."""
    path = LABEL_ENUM_PATHS.get(kind)
    return None if path is None else _enum_at(schema, path)


def schema_keypoint_names(schema: Any) -> list[str] | None:
    return _enum_at(schema, KEYPOINT_NAMES_PATH)


# --- labels read out of a document ----------------------------------------------------------

BBox = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Point:
    name: str
    x: float
    y: float
    visible: bool


@dataclass(frozen=True, slots=True)
class Label:
    """One label of an annotation: a class label (classification), a box, a segmented instance,
    an instance's keypoints, or a caption (label None, text set)."""

    label: str | None
    bbox: BBox | None = None
    score: float | None = None
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    rle: dict[str, Any] | None = None
    iscrowd: bool = False
    points: tuple[Point, ...] = ()
    text: str | None = None
    attributes: dict[str, Any] | None = None


def _bbox(value: Any) -> BBox:
    return (value[0], value[1], value[2], value[3])


def labels_of(kind: str, document: Any) -> list[Label]:
    """The labels of a document that fits the kind (misfit(kind, document) is None)."""
    if kind == CLASSIFICATION:
        return [Label(intern(label)) for label in document["labels"]]
    if kind == DETECTION:
        return [Label(intern(box["label"]), bbox=_bbox(box["bbox"]), score=box.get("score"),
                      attributes=box.get("attributes")) for box in document["boxes"]]
    if kind == SEGMENTATION:
        found = []
        for instance in document["instances"]:
            polygons = tuple(tuple((p[0], p[1]) for p in polygon)
                             for polygon in instance.get("polygons", ()))
            found.append(Label(intern(instance["label"]), polygons=polygons,
                               rle=instance.get("rle"),
                               iscrowd=bool(instance.get("iscrowd", False)),
                               attributes=instance.get("attributes")))
        return found
    if kind == KEYPOINTS:
        return [Label(intern(instance["label"]),
                      bbox=_bbox(instance["bbox"]) if "bbox" in instance else None,
                      points=tuple(Point(p["name"], p["x"], p["y"], bool(p.get("visible", True)))
                                   for p in instance["points"]),
                      attributes=instance.get("attributes"))
                for instance in document["instances"]]
    if kind == CAPTION:
        return [Label(None, text=text) for text in document["captions"]]
    raise ValueError(f"unknown kind {kind!r}")


def label_counts(kind: str, document: Any) -> Counter[str]:
    """How many labels of each class the document holds (captions have none)."""
    return Counter(found.label for found in labels_of(kind, document) if found.label is not None)


def class_list(kind_schemas: Iterable[tuple[str, Any]], labels: Iterable[str]) -> list[str]:
    """The classes of an export: the label enums of the kind schemas (first seen first, each
    in its order), when every one of those schemas has one; else the sorted distinct labels
    found, after the enums' labels. `labels` is every label of the exported content."""
    listed: dict[str, None] = {}
    complete = True
    for kind, schema in kind_schemas:
        if kind == CAPTION:
            continue
        classes = schema_classes(kind, schema)
        if classes is None:
            complete = False
        else:
            listed.update(dict.fromkeys(classes))
    extra = sorted(set(labels) - set(listed))
    if complete and listed:
        return list(listed) + extra  # (extra is empty unless a schema version widened its enum)
    return sorted(set(listed) | set(extra))


# --- shapes: box, area -------------------------------------------------------------------

def polygon_area(polygon: tuple[tuple[float, float], ...]) -> float:
    """The shoelace formula (absolute value)."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def points_bbox(points: Iterable[tuple[float, float]]) -> BBox | None:
    xs, ys = [], []
    for x, y in points:
        xs.append(x)
        ys.append(y)
    if not xs:
        return None
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def rle_counts(rle: dict[str, Any]) -> list[int]:
    """The run lengths of a COCO RLE mask, from its compressed string form (COCO's own
    encoding: 6 bits a character, offset by 48, differences from the run two back after the
    third) or its list form. ValueError for a string that is not such an encoding."""
    counts = rle["counts"]
    if isinstance(counts, list):
        return [int(c) for c in counts]  # (whole numbers: the schema says so)
    runs: list[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(counts):
                raise ValueError("the RLE string ends in the middle of a number")
            char = ord(counts[position]) - 48
            if not 0 <= char < 64:
                raise ValueError("the RLE string holds a character outside its alphabet")
            value |= (char & 0x1F) << (5 * shift)
            more = bool(char & 0x20)
            position += 1
            shift += 1
            if not more and char & 0x10:
                value |= -1 << (5 * shift)
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def rle_area_bbox(rle: dict[str, Any]) -> tuple[int, BBox | None]:
    """The mask's foreground pixel count and its bounding box (None when empty). Runs
    alternate background, foreground, ... over the pixels column by column (COCO's order)."""
    height, width = (int(v) for v in rle["size"])
    runs = rle_counts(rle)
    if sum(runs) != height * width or any(r < 0 for r in runs):
        raise ValueError(f"the RLE runs add up to {sum(runs)} pixels, not {height} x {width}")
    area, position = 0, 0
    x0 = y0 = None
    x1 = y1 = 0
    for index, run in enumerate(runs):
        if index % 2 == 1 and run > 0:
            area += run
            first, last = position, position + run - 1
            cx0, cx1 = first // height, last // height
            ry0, ry1 = (first % height, last % height) if cx0 == cx1 else (0, height - 1)
            x0 = cx0 if x0 is None else min(x0, cx0)
            y0 = ry0 if y0 is None else min(y0, ry0)
            x1, y1 = max(x1, cx1), max(y1, ry1)
        position += run
    if x0 is None or y0 is None:
        return 0, None
    return area, (x0, y0, x1 - x0 + 1, y1 - y0 + 1)


def label_bbox(found: Label) -> BBox | None:
    """The label's box: its own, else the extent of its polygons, of its points, or of its
    mask (None for a class label or a caption)."""
    if found.bbox is not None:
        return found.bbox
    if found.polygons:
        return points_bbox(p for polygon in found.polygons for p in polygon)
    if found.points:
        return points_bbox((p.x, p.y) for p in found.points)
    if found.rle is not None:
        return rle_area_bbox(found.rle)[1]
    return None
