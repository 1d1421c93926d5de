"""Small label datasets made by the tests, in COCO, YOLO and Pascal VOC layout, with the
documents `gonk-api import-labels` must make of them (tests/unit/test_label_readers.py,
tests/e2e/test_import_labels.py).

Three images of different sizes and types (PNG and JPEG, one in a subfolder, one without any
label); the classes are listed in an order that is not alphabetical, so that a test can tell
that the source's order is kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

IMAGES = {  # object name -> (width, height, colour)
    "a.png": (64, 48, (200, 30, 30)),
    "sub/b.jpg": (80, 60, (30, 200, 30)),
    "c.png": (40, 40, (30, 30, 200)),
}
COCO_CATEGORIES = [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"},
                   {"id": 9, "name": "bird"}]
COCO_CLASSES = ["cat", "dog", "bird"]  # by id


def make_image(path: Path, width: int, height: int, colour: tuple[int, int, int]) -> Path:
    """A real PNG or JPEG (by the suffix) of that size, with a little pattern."""
    from PIL import Image, ImageDraw

    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (width, height), colour)
    ImageDraw.Draw(image).rectangle([2, 2, width // 2, height // 2], fill=(250, 250, 250))
    image.save(path, "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG")
    return path


def make_images(folder: Path) -> dict[str, Path]:
    return {name: make_image(folder / name, *spec) for name, spec in IMAGES.items()}


# --- COCO ---------------------------------------------------------------------------------------

COCO_POLYGONS = {  # object name -> [(category id, flat polygon), ...]
    "a.png": [(3, [10, 5, 30, 5, 30, 25, 10, 25]), (7, [40.5, 10, 60, 10, 50, 40.25])],
    "sub/b.jpg": [(9, [5, 5, 20, 5, 20, 15, 12, 20, 5, 15])],
    "c.png": [],
}


def _extent(flat: list[float]) -> list[float]:
    xs, ys = flat[0::2], flat[1::2]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def coco_data(with_polygons: bool = True) -> dict[str, Any]:
    """A COCO instances file over IMAGES: boxes (the extents of the polygons), with the
    polygons as segmentation unless `with_polygons` is false."""
    images, annotations = [], []
    for number, name in enumerate(IMAGES, 1):
        width, height, _ = IMAGES[name]
        images.append({"id": number * 10, "file_name": name, "width": width, "height": height})
        for category, flat in COCO_POLYGONS[name]:
            annotation: dict[str, Any] = {
                "id": len(annotations) + 1, "image_id": number * 10, "category_id": category,
                "bbox": _extent(flat), "area": 1.0, "iscrowd": 0,
                "segmentation": [flat] if with_polygons else []}
            annotations.append(annotation)
    return {"info": {"description": "test"}, "images": images, "annotations": annotations,
            "categories": [dict(category) for category in COCO_CATEGORIES]}


def write_coco(root: Path, with_polygons: bool = True, images_beside: bool = False) -> Path:
    """instances.json in `root`, with the images in `root` (or in root/images)."""
    make_images(root / "images" if images_beside else root)
    path = root / "instances.json"
    path.write_text(json.dumps(coco_data(with_polygons), indent=1))
    return path


def coco_documents(kind: str) -> dict[str, dict[str, Any]]:
    """What the import makes of coco_data(): object name -> annotation document."""
    names = {c["id"]: c["name"] for c in COCO_CATEGORIES}
    documents: dict[str, dict[str, Any]] = {}
    for name, shapes in COCO_POLYGONS.items():
        if kind == "detection":
            documents[name] = {"boxes": [{"label": names[c], "bbox": _extent(flat)}
                                         for c, flat in shapes]}
        else:
            documents[name] = {"instances": [
                {"label": names[c], "polygons": [[[flat[i], flat[i + 1]]
                                                  for i in range(0, len(flat), 2)]],
                 "iscrowd": False} for c, flat in shapes]}
    return documents


# --- YOLO ---------------------------------------------------------------------------------------

YOLO_NAMES = ["dog", "cat", "bird"]
YOLO_LINES = {  # object name -> label file lines (None: no label file)
    "a.png": ["1 0.25 0.5 0.25 0.5", "0 0.75 0.25 0.125 0.25"],
    "sub/b.jpg": ["2 0.5 0.5 0.5 0.5"],
    "c.png": None,
}
YOLO_DOCUMENTS = {  # pixels: see importing.YOLO_BOX_RULE
    "a.png": {"boxes": [{"label": "cat", "bbox": [8, 12, 16, 24]},
                        {"label": "dog", "bbox": [44, 6, 8, 12]}]},
    "sub/b.jpg": {"boxes": [{"label": "bird", "bbox": [20, 15, 40, 30]}]},
    "c.png": {"boxes": []},
}


def write_yolo(root: Path, names_as: str = "classes.txt") -> Path:
    """A YOLO folder: images/, labels/ and the class names as classes.txt, or data.yaml with
    `names` as a list ("data.yaml") or as a mapping ("data.yaml-map")."""
    make_images(root / "images")
    for name, lines in YOLO_LINES.items():
        if lines is not None:
            label = (root / "labels" / name).with_suffix(".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("\n".join(lines) + "\n")
    if names_as == "classes.txt":
        (root / "classes.txt").write_text("\n".join(YOLO_NAMES) + "\n")
    elif names_as == "data.yaml":
        (root / "data.yaml").write_text("path: .\ntrain: images\nnames:\n"
                                        + "".join(f"  - {n}\n" for n in YOLO_NAMES))
    else:
        (root / "data.yaml").write_text("nc: 3\nnames:\n" + "".join(
            f"  {i}: {n}\n" for i, n in enumerate(YOLO_NAMES)))
    return root


# --- Pascal VOC ---------------------------------------------------------------------------------

VOC_BOXES = {  # object name -> [(name, xmin, ymin, xmax, ymax)]
    "a.png": [("cat", 11, 6, 30, 25), ("dog", 41, 11, 60, 40)],
    "sub/b.jpg": [("bird", 1, 1, 80, 60)],
    "c.png": [],
}
VOC_DOCUMENTS = {  # see importing.VOC_BOX_RULE
    "a.png": {"boxes": [{"label": "cat", "bbox": [10, 5, 20, 20]},
                        {"label": "dog", "bbox": [40, 10, 20, 30]}]},
    "sub/b.jpg": {"boxes": [{"label": "bird", "bbox": [0, 0, 80, 60]}]},
    "c.png": {"boxes": []},
}
VOC_CLASSES = ["bird", "cat", "dog"]


def voc_xml(name: str, width: int, height: int,
            boxes: list[tuple[str, float, float, float, float]], size: bool = True) -> str:
    objects = "".join(
        f"<object><name>{label}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>0</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
        f"<ymax>{y2}</ymax></bndbox></object>\n" for label, x1, y1, x2, y2 in boxes)
    size_xml = (f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
                if size else "")
    return (f"<annotation>\n<folder>JPEGImages</folder>\n<filename>{name}</filename>\n"
            f"{size_xml}\n<segmented>0</segmented>\n{objects}</annotation>\n")


def write_voc(root: Path) -> Path:
    """A VOC folder: Annotations/ (one XML per image) and JPEGImages/."""
    make_images(root / "JPEGImages")
    (root / "Annotations").mkdir(parents=True)
    for name, boxes in VOC_BOXES.items():
        width, height, _ = IMAGES[name]
        stem = name.replace("/", "_").rsplit(".", 1)[0]
        (root / "Annotations" / f"{stem}.xml").write_text(voc_xml(name, width, height, boxes))
    return root
