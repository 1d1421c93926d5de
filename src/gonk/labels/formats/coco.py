"""COCO: one `instances.json` in the layout of COCO's "instances" files (what pycocotools'
COCO class and most detection trainers read).

    images       {id, file_name, width, height} per object, in manifest order (id 1, 2, ...);
                 file_name is the object's path under images/; without files, "coco_url" is
                 the URL of its bytes; "gonk": {uuid, version, sha256}
    annotations  one per label, in image order then annotation order (id 1, 2, ...):
                 image_id, category_id, bbox [x, y, width, height], area, iscrowd,
                 segmentation (polygons as flat [x1, y1, x2, y2, ...] lists, or the RLE mask;
                 [] for a detection box), keypoints [x, y, v, ...] and num_keypoints (keypoints
                 kind: v = 2 visible, 1 labelled but hidden, 0 absent), "score" and
                 "attributes" when the label has them, "gonk": {annotation, version}
    categories   {id, name, supercategory ""} per class (id 1, 2, ... in class-list order);
                 keypoints classes add "keypoints" (point names) and "skeleton" []

area: a box's width x height; a polygon's area by the shoelace formula (summed over the
instance's polygons); a mask's foreground pixels. bbox, when the label has none, is the extent
of its polygons, points or mask.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...domain import label_kinds
from ...domain.label_kinds import Label
from . import buffered, compact

if TYPE_CHECKING:
    from ..export import Image, LabelExport, OutputFile

FILE = "instances.json"


def files(export: LabelExport) -> Iterator[OutputFile]:
    from ..export import OutputFile

    yield OutputFile(FILE, lambda: buffered(_parts(export)))


def _parts(export: LabelExport) -> Iterator[str]:
    classes = export.classes()
    ids = {name: index + 1 for index, name in enumerate(classes)}
    point_names = {label: export.keypoint_names(label) for label in export.point_names}
    info = {"description": f"Dataset {export.dataset} at {export.point_name}",
            "version": export.point_name, "gonk": {"dataset": export.dataset,
                                                   "point": export.point.as_json()}}
    yield f'{{"info":{compact(info)},"licenses":[],"images":['
    for position, image in enumerate(export.images):
        yield ("," if position else "") + compact(_image(export, image))
    yield '],"annotations":['
    next_id = 1
    for image in export.images:
        for annotated in export.annotations_of(image):
            for found in annotated.labels:
                assert found.label is not None  # (COCO's kinds all have labels)
                entry = _annotation(found, annotated.kind, point_names)
                entry.update(id=next_id, image_id=image.index, category_id=ids[found.label])
                entry["gonk"] = {"annotation": annotated.uuid, "version": annotated.version}
                yield ("," if next_id > 1 else "") + compact(entry)
                next_id += 1
    categories = []
    for name in classes:
        category: dict[str, Any] = {"id": ids[name], "name": name, "supercategory": ""}
        if name in point_names:
            category["keypoints"] = point_names[name]
            category["skeleton"] = []
        categories.append(category)
    yield f'],"categories":{compact(categories)}}}\n'


def _image(export: LabelExport, image: Image) -> dict[str, Any]:
    assert image.shape is not None
    entry: dict[str, Any] = {"id": image.index, "file_name": image.path,
                             "width": image.shape.width, "height": image.shape.height}
    if not export.with_files:
        entry["coco_url"] = export.url(image)
    entry["gonk"] = {"uuid": image.uuid, "version": image.version, "sha256": image.sha256}
    return entry


def _annotation(found: Label, kind: str, point_names: dict[str, list[str]]) -> dict[str, Any]:
    box = label_kinds.label_bbox(found)
    entry: dict[str, Any] = {"bbox": list(box) if box is not None else [],
                             "iscrowd": 1 if found.iscrowd else 0, "segmentation": []}
    area: float = box[2] * box[3] if box is not None else 0
    if kind == label_kinds.SEGMENTATION:
        if found.rle is not None and (found.iscrowd or not found.polygons):
            entry["segmentation"] = found.rle
            area = label_kinds.rle_area_bbox(found.rle)[0]
        else:
            entry["segmentation"] = [[c for point in polygon for c in point]
                                     for polygon in found.polygons]
            area = sum(label_kinds.polygon_area(polygon) for polygon in found.polygons)
    elif kind == label_kinds.KEYPOINTS:
        assert found.label is not None
        by_name = {p.name: p for p in found.points}
        flat: list[float] = []
        for name in point_names[found.label]:
            point = by_name.get(name)
            flat += [0, 0, 0] if point is None else [point.x, point.y, 2 if point.visible else 1]
        entry["keypoints"] = flat
        entry["num_keypoints"] = sum(1 for v in flat[2::3] if v > 0)
    entry["area"] = area
    if found.score is not None:
        entry["score"] = found.score
    if found.attributes is not None:
        entry["attributes"] = found.attributes
    return entry
