"""`gonk-api import-labels`: existing labels in COCO, YOLO or Pascal VOC format, imported as
objects (the images) and one pending annotation per image.

Two steps, so that a run stores all or nothing:

1. **Read and check** (read_labels): every input file is parsed and checked, and every label is
   turned into a document of a standard label kind (domain/label_kinds.py): `detection`
   (`{"boxes": [{"label", "bbox": [x, y, width, height]}]}`) or `segmentation`
   (`{"instances": [{"label", "polygons": [[[x, y], ...], ...] or "rle", "iscrowd"}]}`).
   Then (LabelImport.prepare) the dataset's schema of that kind is chosen, or planned, and every
   document is validated against it (labels outside its `enum` included). Each problem is one
   Problem, printed as `gonk-api: <file>:<place>: <what is wrong>`; if there is any, nothing is
   stored at all, whichever file it is in.
2. **Apply** (LabelImport.run): create the schema if the dataset had none of that kind, add
   each image as an object unless its bytes are already in the dataset (then the object version
   holding them is used), and propose one annotation per image unless that object version
   already has a live (pending or accepted) annotation of the same schema with the same
   document (compared as RFC 8785 canonical JSON). So running it again proposes nothing new.
   Should storing fail halfway (the server going away), what was stored stays, and running the
   command again finishes the job.

The difference between a local installation and a server is a small target (LocalLabelTarget:
service and queries functions; RemoteLabelTarget: the documented HTTP API).

Coordinates are pixels from the image's top-left corner, as label_kinds has them. The
conversions from each format are COCO_RULE, YOLO_BOX_RULE and VOC_BOX_RULE below; an exporter
writes a format back by inverting them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from xml.etree import ElementTree

import rfc8785

from ..domain import content, label_kinds, rules
from ..domain.errors import Conflict, GonkError
from ..files import file_chunks, sha256_of_file
from ..importer import RemoteTarget, guess_mimetype, unstorable_reason
from ..limits import Limits
from ..remote import domain_errors

if TYPE_CHECKING:
    from ..installation import Installation

FORMATS = ("coco", "yolo", "voc")
KINDS = (label_kinds.DETECTION, label_kinds.SEGMENTATION)

COCO_RULE = """COCO to Gonk: `bbox` [x, y, width, height] is kept as it is (COCO boxes are
already pixels from the top-left corner); a polygon [x1, y1, x2, y2, ...] becomes
[[x1, y1], [x2, y2], ...]; an RLE `{"size": [height, width], "counts": ...}` is kept as the
instance's "rle"; `iscrowd` 0/1 becomes false/true; `score` and an `attributes` object are
kept. The label is the category's `name`. Inverse: flatten the points of each polygon; the
category id of a label is its position in the class list plus one when the exporter numbers
them that way."""

YOLO_BOX_RULE = """YOLO to Gonk: a line `class cx cy w h` (centre, width and height divided by
the image's width W and height H) becomes the box [x, y, width, height] in pixels with
x = (cx - w / 2) * W, y = (cy - h / 2) * H, width = w * W, height = h * H, each rounded to 4
decimals. The label is the class's name (classes.txt line `class`, or data.yaml `names`). An
optional sixth number is the box's score. Inverse: cx = (x + width / 2) / W,
cy = (y + height / 2) / H, w = width / W, h = height / H."""

VOC_BOX_RULE = """Pascal VOC to Gonk: `<bndbox>` holds 1-based pixel indices, both ends included
(a box covering only the image's first pixel is xmin = ymin = xmax = ymax = 1). It becomes the
box [x, y, width, height] on pixel edges from 0 with x = xmin - 1, y = ymin - 1,
width = xmax - xmin + 1, height = ymax - ymin + 1. Inverse: xmin = x + 1, ymin = y + 1,
xmax = x + width, ymax = y + height. `<difficult>`, `<truncated>` and `<occluded>` of 1 become
the box's attributes {"difficult": true, ...}; a `<pose>` other than Unspecified becomes
{"pose": "..."}."""

IMAGE_SUFFIXES = frozenset({".bmp", ".dng", ".gif", ".jpeg", ".jpg", ".mpo", ".pfm", ".png",
                            ".tif", ".tiff", ".webp"})
"""The files a YOLO images folder is searched for (Ultralytics' list, any case)."""

WHOLE_FILE = "(file)"
"""The place of a problem with a file as a whole (missing, unreadable, not an image)."""


class MissingDependency(Exception):
    """A library of the `labels` extra is not installed (the message says which)."""


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise MissingDependency("gonk-api: import-labels needs Pillow; pip install "
                                "'gonk[labels]'") from None
    return Image


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise MissingDependency("gonk-api: import-labels needs PyYAML; pip install "
                                "'gonk[labels]'") from None
    return yaml


# --- what reading gives ---------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something wrong in an input file: which file, where in it, what."""

    file: str
    place: str
    what: str

    def line(self) -> str:
        return f"gonk-api: {self.file}:{self.place}: {self.what}"


@dataclass(frozen=True)
class SourceLabel:
    """One label of a document and where it came from (to name it in a problem)."""

    label: str
    file: str
    place: str


@dataclass
class PlannedImage:
    """An image to import: its file, its object name, and its annotation document."""

    path: Path
    name: str  # the object name: the path relative to the images folder, '/'-separated
    document: dict[str, Any]
    file: str  # the label file the document comes from
    place: str  # where in that file (COCO: images[3]; YOLO and VOC: the whole file)
    labels: list[SourceLabel] = field(default_factory=list)


@dataclass
class Plan:
    """What a run will import, or the problems that stop it."""

    format: str
    kind: str
    classes: list[str]  # in the order the source lists them
    images: list[PlannedImage] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def read_labels(label_format: str, path: Path, images: Path | None = None,
                kind: str | None = None) -> Plan:
    """Read and check every input file of one format (see each reader for its layout)."""
    if label_format == "coco":
        return read_coco(path, images, kind)
    if kind not in (None, label_kinds.DETECTION):
        raise ValueError(f"{label_format.upper()} labels are boxes: they import as "
                         f"'{label_kinds.DETECTION}' (--kind {kind} is for COCO only).")
    if label_format == "yolo":
        return read_yolo(path, images)
    if label_format == "voc":
        return read_voc(path, images)
    raise ValueError(f"Unknown label format {label_format!r}; use one of {', '.join(FORMATS)}.")


# --- shared checks ----------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _shape_problem(kind: str, entry: dict[str, Any]) -> str | None:
    """Why one box or instance does not have the kind's shape (None: it has)."""
    key = "boxes" if kind == label_kinds.DETECTION else "instances"
    why = label_kinds.misfit(kind, {key: [entry]})
    if why is None:
        return None
    return why.replace(f"at '/{key}/0", "at '", 1).replace("at ''", "at '/'", 1)


def _object_name(problems: list[Problem], file: str, place: str, name: str) -> bool:
    reason = unstorable_reason(name)
    if reason is not None:
        problems.append(Problem(file, place, f"{_short(name)} cannot be an object name: "
                                             f"{reason}"))
        return False
    return True


def _relative(relative: str) -> str | None:
    """A file name as a normalised '/'-separated relative path (backslashes taken as
    separators), or None for one that is absolute or leaves its folder ('../x')."""
    if not relative or relative.startswith(("/", "\\")) or os.path.isabs(relative):
        return None
    normal = posixpath.normpath(relative.replace("\\", "/"))
    if normal == "." or normal.startswith("../") or normal == "..":
        return None
    return normal


def _find_image(relative: str, folders: Iterable[Path | tuple[Path, str]]
                ) -> tuple[Path, str] | None:
    """The first folder holding the image `relative`, as (file, object name). A folder may
    come with a prefix: (folder, "sub/") looks for folder/sub/<relative>, named
    sub/<relative>."""
    name = _relative(relative)
    if name is None:
        return None
    for entry in folders:
        folder, prefix = entry if isinstance(entry, tuple) else (entry, "")
        candidate = folder / (prefix + name)
        if candidate.is_file():
            return candidate, prefix + name
    return None


# --- COCO ---------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_coco(path: Path, images: Path | None = None, kind: str | None = None) -> Plan:
    """A COCO instances file (`{"images", "annotations", "categories"}`) at `path`. Images
    resolve against `images`, else the JSON's folder, then `images/` beside it. The kind is
    `kind`, else segmentation when any annotation has a non-empty segmentation, else
    detection. Classes: the categories' names ordered by id. See COCO_RULE."""
    shown = str(path)
    plan = Plan("coco", kind or label_kinds.DETECTION, [])
    problems = plan.problems
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        problems.append(Problem(shown, WHOLE_FILE, f"cannot read it: {exc.strerror or exc}"))
        return plan
    except UnicodeDecodeError as exc:
        problems.append(Problem(shown, f"byte {exc.start}", "not UTF-8 text"))
        return plan
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        problems.append(Problem(shown, f"line {exc.lineno} column {exc.colno}",
                                f"not valid JSON: {exc.msg}"))
        return plan
    except (ValueError, RecursionError) as exc:
        problems.append(Problem(shown, WHOLE_FILE, f"not valid JSON: {str(exc)[:200]}"))
        return plan
    if not isinstance(data, dict):
        problems.append(Problem(shown, "/", 'a COCO file is a JSON object {"images": [...], '
                                            '"annotations": [...], "categories": [...]}'))
        return plan
    lists: dict[str, Any] = {}
    for key in ("images", "annotations", "categories"):
        value = data.get(key, [] if key == "annotations" else None)
        if not isinstance(value, list):
            problems.append(Problem(shown, key, "missing" if value is None
                                    else f"must be a list, not {_short(value)}"))
        lists[key] = value
    if problems:
        return plan

    categories: dict[int, str] = {}
    names_seen: dict[str, int] = {}
    for index, category in enumerate(lists["categories"]):
        place = f"categories[{index}]"
        if not isinstance(category, dict):
            problems.append(Problem(shown, place, "a category must be an object"))
            continue
        ident, name = category.get("id"), category.get("name")
        if not isinstance(ident, int) or isinstance(ident, bool):
            problems.append(Problem(shown, place, f"'id' must be a whole number, not "
                                                  f"{_short(ident)}"))
        elif not isinstance(name, str) or not name:
            problems.append(Problem(shown, place, f"'name' must be a non-empty string, not "
                                                  f"{_short(name)}"))
        elif ident in categories:
            problems.append(Problem(shown, place, f"category id {ident} is listed twice"))
        elif name in names_seen:
            problems.append(Problem(shown, place, f"category name {_short(name)} is used by "
                                                  f"ids {names_seen[name]} and {ident}"))
        else:
            categories[ident] = name
            names_seen[name] = ident
    plan.classes = [categories[ident] for ident in sorted(categories)]

    folders = [images] if images is not None else [path.parent, path.parent / "images"]
    by_id: dict[int, PlannedImage] = {}
    taken: dict[str, str] = {}
    for index, image in enumerate(lists["images"]):
        place = f"images[{index}]"
        if not isinstance(image, dict):
            problems.append(Problem(shown, place, "an image must be an object"))
            continue
        ident, file_name = image.get("id"), image.get("file_name")
        if not isinstance(ident, int) or isinstance(ident, bool):
            problems.append(Problem(shown, place, f"'id' must be a whole number, not "
                                                  f"{_short(ident)}"))
            continue
        if ident in by_id:
            problems.append(Problem(shown, place, f"image id {ident} is listed twice"))
            continue
        if not isinstance(file_name, str) or not file_name:
            problems.append(Problem(shown, place, f"'file_name' must be a non-empty string, "
                                                  f"not {_short(file_name)}"))
            continue
        if _relative(file_name) is None:
            problems.append(Problem(shown, place, f"file_name {_short(file_name)} must be a "
                                                  "relative path inside the images folder"))
            continue
        found = _find_image(file_name, folders)
        if found is None:
            where = " or ".join(str(folder) for folder in folders)
            problems.append(Problem(shown, place, f"no image file {_short(file_name)} in "
                                                  f"{where}"))
            continue
        file_path, name = found
        if not _object_name(problems, shown, place, name):
            continue
        if name in taken:
            problems.append(Problem(shown, place, f"the image {_short(name)} is listed twice "
                                                  f"(also at {taken[name]})"))
            continue
        taken[name] = place
        by_id[ident] = PlannedImage(file_path, name, {}, shown, place)

    annotations = lists["annotations"]
    segmented = any(isinstance(a, dict) and a.get("segmentation") for a in annotations)
    plan.kind = kind or (label_kinds.SEGMENTATION if segmented else label_kinds.DETECTION)
    entries: dict[int, list[dict[str, Any]]] = {ident: [] for ident in by_id}
    known_images = {image["id"] for image in lists["images"] if isinstance(image, dict)
                    and isinstance(image.get("id"), int) and not isinstance(image["id"], bool)}
    for index, annotation in enumerate(annotations):
        place = f"annotations[{index}]"
        if not isinstance(annotation, dict):
            problems.append(Problem(shown, place, "an annotation must be an object"))
            continue
        image_id, category_id = annotation.get("image_id"), annotation.get("category_id")
        if not isinstance(image_id, int) or isinstance(image_id, bool) \
                or image_id not in known_images:
            problems.append(Problem(shown, place, f"image_id {_short(image_id)} names no image "
                                                  "of the file"))
            continue
        if not isinstance(category_id, int) or isinstance(category_id, bool) \
                or category_id not in categories:
            problems.append(Problem(shown, place, f"category_id {_short(category_id)} names "
                                                  "no category of the file"))
            continue
        label = categories[category_id]
        entry = _coco_entry(plan.kind, annotation, label, shown, place, problems)
        if entry is None or image_id not in by_id:  # (an image already refused above)
            continue
        entries[image_id].append(entry)
        by_id[image_id].labels.append(SourceLabel(label, shown, place))
    key = "boxes" if plan.kind == label_kinds.DETECTION else "instances"
    for ident, planned in by_id.items():
        planned.document = {key: entries[ident]}
        plan.images.append(planned)
    return plan


def _coco_entry(kind: str, annotation: dict[str, Any], label: str, shown: str, place: str,
                problems: list[Problem]) -> dict[str, Any] | None:
    """One COCO annotation as a detection box or a segmentation instance (None: a problem
    was recorded)."""
    entry: dict[str, Any] = {"label": label}
    if kind == label_kinds.DETECTION:
        bbox = annotation.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_number, bbox))):
            problems.append(Problem(shown, place, f"'bbox' must be [x, y, width, height], not "
                                                  f"{_short(bbox)}"))
            return None
        entry["bbox"] = bbox
    else:
        segmentation = annotation.get("segmentation")
        if isinstance(segmentation, dict):
            entry["rle"] = segmentation
        elif isinstance(segmentation, list) and segmentation:
            polygons = []
            for number, flat in enumerate(segmentation):
                if not (isinstance(flat, list) and len(flat) >= 6 and len(flat) % 2 == 0
                        and all(map(_number, flat))):
                    size = len(flat) if isinstance(flat, list) else _short(flat)
                    problems.append(Problem(
                        shown, f"{place}.segmentation[{number}]",
                        f"a polygon is an even count (at least 6) of numbers x1, y1, x2, y2, "
                        f"...; this one has {size}"))
                    return None
                polygons.append([[flat[i], flat[i + 1]] for i in range(0, len(flat), 2)])
            entry["polygons"] = polygons
        else:
            problems.append(Problem(shown, place, "no segmentation (polygons or RLE); import "
                                                  "with --kind detection to keep the boxes "
                                                  "only"))
            return None
        iscrowd = annotation.get("iscrowd", 0)
        if iscrowd not in (0, 1):  # (False and True are 0 and 1)
            problems.append(Problem(shown, place, f"'iscrowd' must be 0 or 1, not "
                                                  f"{_short(iscrowd)}"))
            return None
        entry["iscrowd"] = bool(iscrowd)
    if "score" in annotation:
        score = annotation["score"]
        if not _number(score) or not 0 <= score <= 1:
            problems.append(Problem(shown, place, f"'score' must be a number from 0 to 1, not "
                                                  f"{_short(score)}"))
            return None
        entry["score"] = score
    if "attributes" in annotation:
        entry["attributes"] = annotation["attributes"]
    why = _shape_problem(kind, entry)
    if why is not None:
        problems.append(Problem(shown, place, f"not a {kind} label: {why}"))
        return None
    return entry


# --- YOLO ---------------------------------------------------------------------------------------


def _yolo_classes(root: Path, problems: list[Problem]) -> dict[int, str] | None:
    """The class names by index: classes.txt (in the folder or in labels/), one name a line,
    else data.yaml's (or data.yml's) `names`, a list or an {index: name} mapping."""
    for candidate in (root / "classes.txt", root / "labels" / "classes.txt"):
        if candidate.is_file():
            return _classes_txt(candidate, problems)
    for candidate in (root / "data.yaml", root / "data.yml"):
        if candidate.is_file():
            return _data_yaml(candidate, problems)
    problems.append(Problem(str(root), WHOLE_FILE, "no classes.txt or data.yaml (with 'names') "
                                                   "in this folder: the class names are needed"))
    return None


def _classes_txt(path: Path, problems: list[Problem]) -> dict[int, str] | None:
    shown = str(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, WHOLE_FILE, f"cannot read it: {exc}"))
        return None
    while lines and not lines[-1].strip():
        lines.pop()
    names: dict[int, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            problems.append(Problem(shown, f"line {number}", "an empty class name"))
        names[number - 1] = line.strip()
    return _unique_names(names, shown, problems, lambda i: f"line {i + 1}")


def _data_yaml(path: Path, problems: list[Problem]) -> dict[int, str] | None:
    yaml = _yaml()
    shown = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, WHOLE_FILE, f"cannot read it: {exc}"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else WHOLE_FILE
        problems.append(Problem(shown, where, f"not valid YAML: "
                                              f"{getattr(exc, 'problem', None) or exc}"))
        return None
    raw = data.get("names") if isinstance(data, dict) else None
    names: dict[int, str] = {}
    if isinstance(raw, list):
        items: Iterable[tuple[Any, Any]] = enumerate(raw)
    elif isinstance(raw, dict):
        items = raw.items()
    else:
        problems.append(Problem(shown, "names", "missing: 'names' must list the classes (a "
                                                "list, or a mapping of index to name)"))
        return None
    for index, name in items:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            problems.append(Problem(shown, "names", f"class index {_short(index)} is not a "
                                                    "whole number from 0"))
        elif not isinstance(name, (str, int, float)) or isinstance(name, bool) \
                or not str(name).strip():
            problems.append(Problem(shown, f"names[{index}]", f"class name {_short(name)} "
                                                              "is not a non-empty text"))
        else:
            names[index] = str(name).strip()
    return _unique_names(names, shown, problems, lambda i: f"names[{i}]")


def _unique_names(names: dict[int, str], shown: str, problems: list[Problem],
                  place: Callable[[int], str]) -> dict[int, str]:
    first: dict[str, int] = {}
    for index, name in sorted(names.items()):
        if name and name in first:
            problems.append(Problem(shown, place(index), f"class name {_short(name)} is also "
                                                         f"class {first[name]}"))
        first.setdefault(name, index)
    return names


def _files_under(folder: Path) -> Iterator[Path]:
    """Files under `folder` (not hidden, sorted by path), following no folder links."""
    for current, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if not filename.startswith("."):
                yield Path(current, filename)


def image_size(path: Path) -> tuple[int, int] | str:
    """(width, height) from the image's header, with Pillow, never decoding the pixels; or why
    there is none."""
    Image = _pillow()
    try:
        with Image.open(path) as image:
            width, height = image.size
            return int(width), int(height)
    except OSError as exc:
        return f"not an image Pillow can read ({str(exc)[:120]})"
    except Exception as exc:  # Pillow refuses broken headers with many exception types
        return f"its image header cannot be read ({type(exc).__name__})"


def read_yolo(root: Path, images: Path | None = None) -> Plan:
    """A YOLO folder: `images/` (or the folder `images`), `labels/` with one `<stem>.txt` per image
    at the same relative path (an image without one has no boxes), and the class names in
    classes.txt or data.yaml. Each line: `class cx cy w h` (normalised to 0..1) and optionally a
    score. Image sizes come from the images' headers. See YOLO_BOX_RULE."""
    plan = Plan("yolo", label_kinds.DETECTION, [])
    problems = plan.problems
    classes = _yolo_classes(root, problems)
    if classes is not None:
        plan.classes = [classes[index] for index in sorted(classes)]
    images_dir = images if images is not None else root / "images"
    labels_dir = root / "labels"
    if not images_dir.is_dir():
        problems.append(Problem(str(images_dir), WHOLE_FILE, "no such folder: the images go "
                                                             "in images/ (or give --images)"))
        return plan
    used_labels: dict[Path, str] = {}
    for path in _files_under(images_dir):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        name = path.relative_to(images_dir).as_posix()
        if not _object_name(problems, str(path), WHOLE_FILE, name):
            continue
        label_path = (labels_dir / name).with_suffix(".txt")
        planned = PlannedImage(path, name, {"boxes": []}, str(label_path), WHOLE_FILE)
        if label_path in used_labels:
            problems.append(Problem(str(label_path), WHOLE_FILE, f"the label file of two images: "
                                    f"{_short(used_labels[label_path])} and {_short(name)}"))
            continue
        if label_path.is_file():
            used_labels[label_path] = name
            size = image_size(path)
            if isinstance(size, str):
                problems.append(Problem(str(path), WHOLE_FILE, size))
                continue
            boxes = _yolo_boxes(label_path, size, classes, planned, problems)
            planned.document = {"boxes": boxes}
        else:
            planned.file = str(path)
        plan.images.append(planned)
    if labels_dir.is_dir():
        for path in _files_under(labels_dir):
            if path.suffix == ".txt" and path not in used_labels and path.name != "classes.txt":
                problems.append(Problem(str(path), WHOLE_FILE, f"no image {path.stem}.* beside "
                                        f"it in {images_dir}: its labels would be lost"))
    return plan


def _yolo_boxes(path: Path, size: tuple[int, int], classes: dict[int, str] | None,
                planned: PlannedImage, problems: list[Problem]) -> list[dict[str, Any]]:
    shown = str(path)
    width, height = size
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, WHOLE_FILE, f"cannot read it: {exc}"))
        return []
    boxes = []
    for number, line in enumerate(lines, 1):
        place = f"line {number}"
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (5, 6):
            extra = " (YOLO polygons are not imported: only boxes)" if len(fields) > 6 else ""
            problems.append(Problem(shown, place, f"expected 5 numbers (class x_center y_center "
                                                  f"width height), found {len(fields)}{extra}"))
            continue
        try:
            index = int(fields[0])
            values = [float(v) for v in fields[1:]]
        except ValueError:
            problems.append(Problem(shown, place, "expected a class number then 4 numbers: "
                                                  f"{_short(line.strip())}"))
            continue
        if not all(math.isfinite(v) and 0 <= v <= 1 for v in values):
            problems.append(Problem(shown, place, "the coordinates (and score) must be numbers "
                                                  f"from 0 to 1: {_short(line.strip())}"))
            continue
        if classes is None:
            continue  # (the missing class list is reported once)
        if index not in classes:
            known = f"0 to {max(classes)}" if classes else "none"
            problems.append(Problem(shown, place, f"class {index} is not in the class list "
                                                  f"({known})"))
            continue
        cx, cy, w, h = values[:4]
        box: dict[str, Any] = {"label": classes[index], "bbox": [
            _pixels((cx - w / 2) * width), _pixels((cy - h / 2) * height),
            _pixels(w * width), _pixels(h * height)]}
        if len(values) == 5:
            box["score"] = values[4]
        boxes.append(box)
        planned.labels.append(SourceLabel(box["label"], shown, place))
    return boxes


def _pixels(value: float) -> int | float:
    """A pixel coordinate rounded to 4 decimals (an integer when it is one)."""
    rounded = round(value, 4) + 0.0  # (+ 0.0: no -0.0)
    return int(rounded) if rounded.is_integer() else rounded


# --- Pascal VOC ---------------------------------------------------------------------------------


def read_voc(path: Path, images: Path | None = None) -> Plan:
    """A folder of Pascal VOC .xml files (or a folder holding `Annotations/`; subfolders
    included), one per image. Each image is `<filename>` (a name or a relative path) in
    `images`, else in `JPEGImages/` beside the XML folder, else in the XML folder itself; for
    an XML file in a subfolder, the same subfolder of those is looked in first. The object name
    is the image's path relative to that folder. `<size>` (width and height) is required.
    Classes: the sorted distinct `<name>`s. See VOC_BOX_RULE."""
    plan = Plan("voc", label_kinds.DETECTION, [])
    problems = plan.problems
    xml_dir = path / "Annotations" if (path / "Annotations").is_dir() else path
    files = [p for p in _files_under(xml_dir) if p.suffix.lower() == ".xml"]
    if not files:
        problems.append(Problem(str(xml_dir), WHOLE_FILE, "no .xml files in this folder"))
        return plan
    bases = [images] if images is not None else [xml_dir.parent / "JPEGImages", xml_dir]
    taken: dict[str, str] = {}
    names: set[str] = set()
    for xml_path in files:
        sub = xml_path.parent.relative_to(xml_dir).as_posix()
        prefixes = [f"{sub}/", ""] if sub != "." else [""]
        folders = [(base, prefix) for base in bases for prefix in prefixes]
        planned = _voc_file(xml_path, folders, problems)
        if planned is None:
            continue
        if planned.name in taken:
            problems.append(Problem(planned.file, "annotation/filename",
                                    f"the image {_short(planned.name)} is also that of "
                                    f"{taken[planned.name]}"))
            continue
        taken[planned.name] = planned.file
        names.update(label.label for label in planned.labels)
        plan.images.append(planned)
    plan.classes = sorted(names)
    return plan


def _text(element: ElementTree.Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _voc_number(parent: ElementTree.Element, tag: str, shown: str, place: str,
                problems: list[Problem]) -> float | None:
    text = _text(parent.find(tag))
    try:
        value = float(text) if text is not None else None
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        what = f"no <{tag}>" if text is None else f"<{tag}> is not a number: {_short(text)}"
        problems.append(Problem(shown, place, what))
        return None
    return value


def _voc_file(xml_path: Path, folders: list[tuple[Path, str]],
              problems: list[Problem]) -> PlannedImage | None:
    shown = str(xml_path)
    try:
        root = ElementTree.parse(xml_path).getroot()
    except ElementTree.ParseError as exc:
        line, column = exc.position
        problems.append(Problem(shown, f"line {line} column {column + 1}",
                                f"not well-formed XML: {str(exc).split(':')[0]}"))
        return None
    except OSError as exc:
        problems.append(Problem(shown, WHOLE_FILE, f"cannot read it: {exc.strerror or exc}"))
        return None
    if root.tag != "annotation":
        problems.append(Problem(shown, root.tag, "a VOC file's root element is <annotation>"))
        return None
    before = len(problems)
    filename = _text(root.find("filename"))
    size = root.find("size")
    if filename is None:
        problems.append(Problem(shown, "annotation", "no <filename> (the image's file name)"))
    if size is None:
        problems.append(Problem(shown, "annotation", "no <size> (the image's <width> and "
                                                     "<height>)"))
    else:
        for tag in ("width", "height"):
            value = _voc_number(size, tag, shown, "annotation/size", problems)
            if value is not None and (value <= 0 or not value.is_integer()):
                problems.append(Problem(shown, f"annotation/size/{tag}", f"must be a whole "
                                        f"number of pixels above 0, not {_short(value)}"))
    planned = PlannedImage(xml_path, "", {"boxes": []}, shown, WHOLE_FILE)
    boxes = []
    for index, element in enumerate(root.findall("object"), 1):
        place = f"annotation/object[{index}]"
        label = _text(element.find("name"))
        if label is None:
            problems.append(Problem(shown, place, "no <name> (the class)"))
            continue
        bndbox = element.find("bndbox")
        if bndbox is None:
            problems.append(Problem(shown, place, "no <bndbox>"))
            continue
        corners = [_voc_number(bndbox, tag, shown, f"{place}/bndbox", problems)
                   for tag in ("xmin", "ymin", "xmax", "ymax")]
        if any(value is None for value in corners):
            continue
        xmin, ymin, xmax, ymax = (float(v) for v in corners if v is not None)
        if xmax < xmin or ymax < ymin:
            problems.append(Problem(shown, f"{place}/bndbox", f"xmax and ymax must be at least "
                                    f"xmin and ymin: ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g})"))
            continue
        box: dict[str, Any] = {"label": label, "bbox": [
            _pixels(xmin - 1), _pixels(ymin - 1), _pixels(xmax - xmin + 1),
            _pixels(ymax - ymin + 1)]}
        attributes: dict[str, Any] = {}
        for flag in ("difficult", "truncated", "occluded"):
            if _text(element.find(flag)) == "1":
                attributes[flag] = True
        pose = _text(element.find("pose"))
        if pose is not None and pose != "Unspecified":
            attributes["pose"] = pose
        if attributes:
            box["attributes"] = attributes
        boxes.append(box)
        planned.labels.append(SourceLabel(label, shown, place))
    if filename is not None:
        found = _find_image(filename, folders)
        if found is None:
            where = " or ".join(str(folder / prefix).rstrip("/") for folder, prefix in folders)
            problems.append(Problem(shown, "annotation/filename",
                                    f"no image file {_short(filename)} in {where}"))
        else:
            planned.path, planned.name = found
            _object_name(problems, shown, "annotation/filename", planned.name)
    if len(problems) > before:
        return None
    planned.document = {"boxes": boxes}
    return planned


# --- where things go: a local installation or a server --------------------------------------


@dataclass(frozen=True)
class SchemaVersion:
    name: str
    uuid: str
    version: int
    data: bytes


@dataclass(frozen=True)
class ExistingAnnotation:
    """A version of an annotation attached to an object version."""

    uuid: str
    version: int
    schema_uuid: str
    hash: str
    live: bool  # neither rejected nor deleted


class LabelTarget(Protocol):
    """What an import of labels needs of a dataset, locally or through a server."""

    def object_with_hash(self, digest: str) -> tuple[str, int] | None:
        """A live object version holding these bytes, or None."""

    def add_image(self, path: Path, name: str, mimetype: str) -> tuple[str, int]:
        """Create the object; Conflict (with `existing`) if its bytes are there already."""

    def kind_schemas(self) -> list[SchemaVersion]:
        """Each schema's newest live version, in the schemas' creation order."""

    def create_schema(self, name: str, data: bytes) -> str:
        """Create a schema; its uuid."""

    def annotations_of(self, object_uuid: str, version: int) -> list[ExistingAnnotation]:
        """Every version of every annotation attached to this object version."""

    def annotation_bytes(self, item_uuid: str, version: int) -> bytes: ...

    def propose(self, schema: SchemaVersion, obj: tuple[str, int], data: bytes) -> str:
        """Create an annotation of `obj`; its uuid."""


CREATE_TYPES = frozenset({"ObjectCreateEvent", "ObjectUpdateEvent", "AnnotationCreateEvent",
                          "AnnotationUpdateEvent"})
DELETE_TYPES = frozenset({"ObjectDeleteEvent", "AnnotationDeleteEvent"})


def is_live(events: Iterable[dict[str, Any]]) -> bool:
    """Whether a version is neither rejected nor deleted, from the events of its load
    response (`[{"uuid", "type", "review"}]`)."""
    for event in events:
        if event["type"] in CREATE_TYPES and event["review"] == "REJECTED":
            return False
        if event["type"] in DELETE_TYPES and event["review"] == "ACCEPTED":
            return False
    return True


class LocalLabelTarget:
    """A local installation, through the service and queries functions, as `user`."""

    def __init__(self, installation: Installation, dataset: str, user: str) -> None:
        from .. import queries

        self.installation, self.dataset, self.user = installation, dataset, user
        queries.list_owners(installation, dataset)  # 404 now for an unknown dataset
        self.limits = installation.limits

    def _load(self, kind: str, item_uuid: str, version: int,
              with_bytes: bool = False) -> dict[str, Any]:
        from ..queries import load_version

        return load_version(self.installation, self.dataset, kind, item_uuid, version,
                            with_bytes=with_bytes)

    def object_with_hash(self, digest: str) -> tuple[str, int] | None:
        from ..queries import objects_with_hash

        found = objects_with_hash(self.installation, self.dataset, digest)
        return (found[0]["uuid"], found[0]["version"]) if found else None

    def add_image(self, path: Path, name: str, mimetype: str) -> tuple[str, int]:
        from .. import service

        blob = service.store_stream(self.installation, self.dataset, file_chunks(path), None)
        done = service.create_object(self.installation, self.dataset, self.user, name,
                                     mimetype, blob)
        return done["uuid"], done["version"]

    def kind_schemas(self) -> list[SchemaVersion]:
        from ..queries import list_items

        found = []
        for schema in list_items(self.installation, self.dataset, rules.SCHEMA, None, None):
            for version in range(schema["versions"] - 1, -1, -1):
                loaded = self._load(rules.SCHEMA, schema["uuid"], version, with_bytes=True)
                if is_live(loaded["events"]):
                    found.append(SchemaVersion(schema["name"], schema["uuid"], version,
                                               base64.b64decode(loaded["bytes"])))
                    break
        return found

    def create_schema(self, name: str, data: bytes) -> str:
        from .. import service

        return str(service.create_schema(self.installation, self.dataset, self.user, name,
                                         data)["uuid"])

    def annotations_of(self, object_uuid: str, version: int) -> list[ExistingAnnotation]:
        attached = self._load(rules.OBJECT, object_uuid, version)["annotations"]
        found = []
        for annotation in attached:
            for number in range(annotation["versions"]):
                loaded = self._load(rules.ANNOTATION, annotation["uuid"], number)
                meta = loaded["annotation"]
                found.append(ExistingAnnotation(meta["uuid"], number, meta["schema"]["uuid"],
                                                meta["hash"], is_live(loaded["events"])))
        return found

    def annotation_bytes(self, item_uuid: str, version: int) -> bytes:
        loaded = self._load(rules.ANNOTATION, item_uuid, version, with_bytes=True)
        return base64.b64decode(loaded["bytes"])

    def propose(self, schema: SchemaVersion, obj: tuple[str, int], data: bytes) -> str:
        from .. import service

        done = service.create_annotation(
            self.installation, self.dataset, self.user,
            {"name": schema.name, "version": schema.version},
            [{"uuid": obj[0], "version": obj[1]}], data)
        return str(done["uuid"])


class RemoteLabelTarget(RemoteTarget):
    """A Gonk server, through gonk.Client (its errors as domain errors: gonk.remote)."""

    limits = Limits()

    def object_with_hash(self, digest: str) -> tuple[str, int] | None:
        with domain_errors():
            found = self.dataset.objects.with_hash(digest)
        return (found[0].uuid, found[0].version) if found else None

    def add_image(self, path: Path, name: str, mimetype: str) -> tuple[str, int]:
        with domain_errors():
            done = self.dataset.upload(path, name, mimetype)
        return done.uuid, done.version

    def kind_schemas(self) -> list[SchemaVersion]:
        found = []
        with domain_errors():
            for schema in self.dataset.schemas.list():
                for version in range(schema.versions - 1, -1, -1):
                    loaded = self.dataset.schemas.load(schema.name, version)
                    if loaded.meta.uuid != schema.uuid:
                        break  # an older schema whose name has passed to a newer one
                    if is_live({"type": e.type, "review": e.review} for e in loaded.events):
                        data = loaded.data if loaded.data is not None \
                            else self.dataset.schemas.read(schema.name, version)
                        found.append(SchemaVersion(schema.name, schema.uuid, version, data))
                        break
        return found

    def create_schema(self, name: str, data: bytes) -> str:
        with domain_errors():
            return self.dataset.schemas.create(name, data).uuid

    def annotations_of(self, object_uuid: str, version: int) -> list[ExistingAnnotation]:
        found = []
        with domain_errors():
            attached = self.dataset.objects.load(object_uuid, version, with_bytes=False)
            for annotation in attached.annotations:
                for number in range(annotation.versions):
                    loaded = self.dataset.annotations.load(annotation.uuid, number,
                                                           with_bytes=False)
                    meta = loaded.meta
                    found.append(ExistingAnnotation(
                        meta.uuid, number, str((meta.schema or {}).get("uuid")), meta.hash,
                        is_live({"type": e.type, "review": e.review} for e in loaded.events)))
        return found

    def annotation_bytes(self, item_uuid: str, version: int) -> bytes:
        with domain_errors():
            return self.dataset.annotations.read(item_uuid, version)

    def propose(self, schema: SchemaVersion, obj: tuple[str, int], data: bytes) -> str:
        with domain_errors():
            return self.dataset.annotations.create(schema.name, schema.version, [obj],
                                                   data).uuid


# --- the import -----------------------------------------------------------------------------


def canonical(document: Any) -> bytes:
    """RFC 8785 canonical JSON: the bytes stored, and what documents are compared by."""
    return rfc8785.dumps(document)


@dataclass
class Summary:
    images_added: int = 0
    images_present: int = 0
    annotations_proposed: int = 0
    annotations_there: int = 0
    schema: str = ""
    schema_version: int = 0
    schema_created: bool = False
    failed: str | None = None  # what stopped the run (what was stored before stays)

    def line(self, dataset: str) -> str:
        schema = (f"schema {self.schema} created" if self.schema_created
                  else f"schema {self.schema} version {self.schema_version} used")
        return (f"Imported labels into {dataset}: {self.images_added} images added, "
                f"{self.images_present} already present; {self.annotations_proposed} "
                f"annotations proposed, {self.annotations_there} already there; {schema}.")


class LabelImport:
    """One run: `prepare` chooses the schema and checks every document against it (problems:
    nothing may be stored), `run` stores."""

    def __init__(self, target: LabelTarget, plan: Plan) -> None:
        self.target, self.plan = target, plan
        self.schema: SchemaVersion | None = None  # the schema used (None until prepared)
        self.create_schema = False

    def prepare(self) -> list[Problem]:
        """Choose the schema: the dataset's schema that declares the kind (`schema-<kind>` if
        there are several, else the first created), at its newest live version; else a new
        `schema-<kind>` from the kind's template with the class list as its label enum. Then
        check every document against it. The problems (none: ready to run)."""
        kind, plan = self.plan.kind, self.plan
        wanted = f"schema-{kind}"
        candidates = []
        taken = None
        for schema in self.target.kind_schemas():
            if schema.name == wanted:
                taken = schema
            try:
                document = json.loads(schema.data)
                declared = label_kinds.declared_kind(document)
            except (ValueError, label_kinds.UnknownKind):
                continue
            if declared == kind:
                candidates.append(schema)
        candidates.sort(key=lambda s: s.name != wanted)  # (stable: else creation order)
        if candidates:
            self.schema = candidates[0]
        elif taken is not None:
            raise Conflict(f"The dataset's schema {taken.name} does not declare "
                           f'"{label_kinds.KIND_KEYWORD}": "{kind}", and no other of its schemas '
                           f"does: these labels can use none of them, and {wanted} cannot be "
                           "created. Give that schema the kind, or rename it.")
        else:
            document = label_kinds.template(kind)
            if plan.classes:
                node = document
                path = label_kinds.LABEL_ENUM_PATHS[kind]
                for key in path[:-1]:
                    node = node[key]
                node[path[-1]] = list(plan.classes)
            self.schema = SchemaVersion(wanted, "", 0, canonical(document))
            self.create_schema = True
        return self._check_documents(self.schema)

    def _check_documents(self, schema: SchemaVersion) -> list[Problem]:
        problems = []
        classes = label_kinds.schema_classes(self.plan.kind, json.loads(schema.data))
        allowed = set(classes) if classes is not None else None
        cache = content.ValidatorCache(max(len(schema.data), 1))
        digest = hashlib.sha256(schema.data).hexdigest()
        limits = getattr(self.target, "limits", Limits())
        for image in self.plan.images:
            outside = [label for label in image.labels
                       if allowed is not None and label.label not in allowed]
            for label in outside:
                listed = ", ".join(classes or [])
                problems.append(Problem(label.file, label.place, (
                    f"label {_short(label.label)} is not in the classes of {schema.name} "
                    f"({listed[:200]})")))
            if outside:
                continue
            data = canonical(image.document)
            try:
                content.check_size(data, "annotation", limits.max_annotation_bytes)
                content.check_annotation(data, digest, lambda: schema.data, cache,
                                         limits.validation_seconds)
            except GonkError as exc:
                details = exc.extra.get("details") or []
                pointer = str(details[0].get("path") or "") if details else ""
                problems.append(self._misfit(image, pointer, f"{exc.message} (schema "
                                                             f"{schema.name})"))
        return problems

    @staticmethod
    def _misfit(image: PlannedImage, pointer: str, what: str) -> Problem:
        """A document that its schema refuses, named by the place of the label at fault when
        the JSON pointer leads into one (/boxes/3/...: the fourth label's line or entry)."""
        parts = pointer.split("/")
        if len(parts) >= 3 and parts[1] in ("boxes", "instances") and parts[2].isdigit() \
                and int(parts[2]) < len(image.labels):
            label = image.labels[int(parts[2])]
            rest = "/".join(parts[3:])
            return Problem(label.file, label.place, what + (f" at '/{rest}'" if rest else ""))
        return Problem(image.file, image.place, what + (f" at '{pointer}'" if pointer else ""))

    def run(self, advance: Callable[[int], None] = lambda n: None) -> Summary:
        """Store: the schema (if new), each image (unless its bytes are there), each
        annotation (unless the same one is there). `advance(1)` after each image."""
        if self.schema is None:
            raise RuntimeError("prepare() first")
        summary = Summary(schema=self.schema.name, schema_version=self.schema.version,
                          schema_created=self.create_schema)
        if self.create_schema:
            uuid = self.target.create_schema(self.schema.name, self.schema.data)
            self.schema = SchemaVersion(self.schema.name, uuid, 0, self.schema.data)
            self.create_schema = False
        for image in self.plan.images:
            try:
                self._one(image, summary)
            except (GonkError, OSError) as exc:
                summary.failed = f"{image.name}: {getattr(exc, 'message', None) or exc}"
                return summary
            advance(1)
        return summary

    def _one(self, image: PlannedImage, summary: Summary) -> None:
        assert self.schema is not None
        found = self.target.object_with_hash(sha256_of_file(image.path))
        if found is None:
            try:
                obj = self.target.add_image(image.path, image.name, guess_mimetype(image.path))
                summary.images_added += 1
            except Conflict as exc:  # the same bytes, added meanwhile
                existing = exc.extra.get("existing")
                if not existing:
                    raise
                found = (existing["uuid"], existing["version"])
        if found is not None:
            summary.images_present += 1
            obj = found
        data = canonical(image.document)
        if found is not None and self._already_there(obj, data):
            summary.annotations_there += 1
            return
        self.target.propose(self.schema, obj, data)
        summary.annotations_proposed += 1

    def _already_there(self, obj: tuple[str, int], data: bytes) -> bool:
        """Whether the object version has a live annotation of the same schema whose document
        is `data` once canonical."""
        assert self.schema is not None
        digest = hashlib.sha256(data).hexdigest()
        for existing in self.target.annotations_of(*obj):
            if not existing.live or existing.schema_uuid != self.schema.uuid:
                continue
            if existing.hash == digest:
                return True
            try:
                stored = canonical(json.loads(self.target.annotation_bytes(existing.uuid,
                                                                           existing.version)))
            except (ValueError, rfc8785.CanonicalizationError):
                continue
            if stored == data:
                return True
        return False
