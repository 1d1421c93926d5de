"""Export the content of a dataset at a point (a release, or any event) in a label format:
`coco`, `yolo`, `voc`, `csv` or `parquet` (formats/), with the object files or without.

An export is two passes over the content at the point (releases.content_at: the same versions,
in the same order, as the point's manifest):

1. **Gather.** Each object becomes an image record (its width and height read from the image
   header when the format needs them: labels/images.py). Each annotation is read once, checked
   against its schema's label kind and the format, and its labels kept with its object. Nothing
   is dropped silently: an annotation or object that cannot go into the format is listed in
   the report with its uuid and the reason.
2. **Write.** The format turns the records into files (OutputFile), which are written into a
   folder (`gonk-api export`) or streamed as a zip archive (the HTTP route): the same files, in
   the same order, with the same bytes, on any storage.

What the formats need (FORMATS): COCO, YOLO and VOC describe images, so their objects must be
images Pillow can read, and boxes must lie inside their image; COCO holds detection,
segmentation and keypoints labels; YOLO and VOC hold boxes (the detection kind); CSV and
Parquet hold every kind. In every format an annotation must link exactly one object, and its
schema must declare a label kind. An annotation is exported whole or not at all.

Output paths: with files, each object is written under `images/<its name>` (VOC:
`JPEGImages/<its name>`) when its name is a safe relative path (the rules of exporting.PathPlanner, which `gonk-api export` without a format
also follows); otherwise, or when its name clashes with an earlier object's (or, for YOLO and
VOC, when its label file would clash: `a.jpg` and `a.png` would both need `a.txt`), under
`images/_gonk_renamed/<uuid>.<version>[.<ext>]`. Without files, each record carries the URL of
the object's bytes at the point instead: `<base>/datasets/<d>/objects/<uuid>/<version>/bytes
?as_of=<point>` (`base`: the server's address; empty for a local export without --base-url, so
the URL is a path on the server).
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import mmap
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote

from ..domain import label_kinds, rules, validation
from ..domain.errors import Invalid, NotFound, NotInstalled
from ..domain.label_kinds import Label
from ..exporting import PathPlanner, fold_name, renamed_path
from ..installation import Installation
from ..releases import Point, content_at, resolve_point
from ..storage import datasets, reads
from ..storage import releases as stored_releases
from ..storage.points import ContentRow
from .images import PREFIXES, ImageSize, image_size

FORMATS: dict[str, frozenset[str]] = {
    "coco": frozenset({label_kinds.DETECTION, label_kinds.SEGMENTATION, label_kinds.KEYPOINTS}),
    "yolo": frozenset({label_kinds.DETECTION}),
    "voc": frozenset({label_kinds.DETECTION}),
    "csv": frozenset(label_kinds.KINDS),
    "parquet": frozenset(label_kinds.KINDS),
}
"""Each format, and the label kinds it can hold."""
IMAGE_FORMATS = frozenset({"coco", "yolo", "voc"})
"""Formats that describe images: their objects must be images, with a readable size."""
STEM_FORMATS = frozenset({"yolo", "voc"})
"""Formats whose label files are named after the image's path without its extension."""
IMAGES_FOLDERS = {"voc": "JPEGImages"}
"""Where each format's object files go (VOC's own folder name); "images" for the others."""
REPORT_FILE = "export-report.json"
PACKAGES = {"PIL": "Pillow", "pyarrow": "pyarrow"}
BOX_TOLERANCE = 1e-6  # pixels a box may reach past its image's edge (rounding)


@dataclass(slots=True)
class Annotated:
    """An exported annotation: its labels, all of its schema's kind."""

    uuid: str
    version: int
    schema: str
    kind: str
    labels: list[Label]


@dataclass(slots=True)
class Image:
    """An exported object, with where its annotations' labels lie in the export's spool file
    (in manifest order): LabelExport.annotations_of reads them back."""

    index: int  # 1-based, in manifest order (COCO's image id)
    uuid: str
    version: int
    name: str | None
    mimetype: str | None
    size: int
    sha256: str
    path: str  # under images/ ('/'-separated)
    shape: ImageSize | None = None
    annotations: list[tuple[int, int]] = field(default_factory=list)  # (offset, size)


@dataclass(frozen=True)
class OutputFile:
    """One file of an export, produced when `chunks()` is read."""

    path: str  # '/'-separated, relative to the export's folder
    chunks: Callable[[], Iterator[bytes]]
    size: int | None = None  # known for object files (and then sha256 too)
    sha256: str | None = None
    compress: bool = True  # deflated in a zip (object files are stored as they are)


@dataclass
class Report:
    """What was left out, and why: `export-report.json`."""

    skipped_annotations: list[dict[str, Any]] = field(default_factory=list)
    skipped_objects: list[dict[str, Any]] = field(default_factory=list)

    def skip_annotation(self, row: ContentRow, reason: str) -> None:
        self.skipped_annotations.append({"uuid": row.uuid, "version": row.version,
                                         "reason": reason})

    def skip_object(self, row: ContentRow, reason: str) -> None:
        self.skipped_objects.append({"uuid": row.uuid, "version": row.version,
                                     "name": row.name, "reason": reason})


class LabelExport:
    """One export of the content at `point` of `dataset` in `format`. `point_name` is how the
    URLs name the point (the release's name, or the event uuid)."""

    def __init__(self, installation: Installation, dataset: str, point: Point, point_name: str,
                 format: str, files: bool, base_url: str = "") -> None:
        if format not in FORMATS:
            raise Invalid(f"Unknown label format {format!r}; the formats are "
                          f"{', '.join(FORMATS)}.")
        self.installation, self.dataset, self.point = installation, dataset, point
        self.point_name, self.format, self.with_files = point_name, format, files
        self.base_url = base_url.rstrip("/")
        with installation.db.read() as conn:
            self.dataset_id = datasets.get(conn, dataset).id
        self.report = Report()
        self.images: list[Image] = []
        self.kind_schemas: dict[tuple[str, int], tuple[str, str, Any] | None] = {}
        self.labels = 0
        self.exported_annotations = 0
        # what the formats need of every label, kept while gathering (the labels themselves
        # wait in the spool, so memory does not grow with them)
        self.seen_labels: set[str] = set()
        self.used_schemas: set[tuple[str, str]] = set()  # (schema name, kind)
        self.point_names: dict[str, set[str]] = {}  # keypoints label -> point names found
        self._spool: IO[bytes] | None = None
        self._spooled = 0  # bytes written to the spool (its tell(), without a system call)
        self._spool_map: mmap.mmap | None = None
        self._gathered = False
        self.images_folder = IMAGES_FOLDERS.get(format, "images")
        self.expected_versions: int | None = None  # what gather will read, when known

    # - pass 1 -

    def gather(self, progress: Callable[[int], None] | None = None) -> None:
        """Read the content at the point: every object's record, every annotation's labels.
        `progress` is told of each version read (1 each)."""
        if self._gathered:
            return
        tell = progress or (lambda n: None)
        by_uuid: dict[str, Image] = {}
        planner = _ImagePlanner(self.format in STEM_FORMATS)
        rows = content_at(self.installation, self.dataset_id, self.point.seq)
        # a remote store (S3) answers each read after a round trip: read ahead on threads; local
        # files are read in turn (threads waiting on the GIL made gather slower there)
        remote = self.installation.blobs.local_path("0" * 64) is None
        for row, read in _read_ahead(rows, self._read, READERS if remote else 0):
            tell(1)
            if row.kind == rules.OBJECT:
                image = self._image(row, read, planner, len(self.images) + 1)
                if image is not None:
                    self.images.append(image)
                    by_uuid[image.uuid] = image
            elif row.kind == rules.ANNOTATION:
                self._annotation(row, read, by_uuid)
        self._gathered = True

    def _read(self, row: ContentRow) -> bytes | None:
        """What gather needs of a version's bytes (in a reader thread): an object's first
        bytes (for its image header), an annotation's document."""
        if row.kind == rules.ANNOTATION:
            return self.installation.blobs.get(row.hash)
        if row.kind == rules.OBJECT and (self.format in IMAGE_FORMATS
                                         or self.format == "parquet"):
            return self._prefix(row.hash, min(PREFIXES[0], row.size))
        return None

    def _image(self, row: ContentRow, read: bytes | None | BaseException,
               planner: _ImagePlanner, index: int) -> Image | None:
        image = Image(index, row.uuid, row.version, row.name, row.format, row.size, row.hash,
                      planner.place(row.name, row.uuid, row.version))
        if self.format in IMAGE_FORMATS or self.format == "parquet":
            def prefix(n: int) -> bytes:
                if isinstance(read, bytes) and (n <= len(read) or len(read) == row.size):
                    return read[:n]
                return self._prefix(row.hash, n)

            try:
                if isinstance(read, BaseException):
                    raise read
                shape = image_size(prefix, row.size)
            except FileNotFoundError:
                self.report.skip_object(row, "its bytes are missing from the blob store")
                return None
            if isinstance(shape, ImageSize):
                image.shape = shape
            elif self.format in IMAGE_FORMATS:
                self.report.skip_object(row, f"{shape}; {self.format} describes images")
                return None
        return image

    def url(self, image: Image) -> str:
        """The URL of the object's bytes at the point (made when needed: not kept per image)."""
        return (f"{self.base_url}/datasets/{quote(self.dataset, safe='')}/objects/{image.uuid}/"
                f"{image.version}/bytes?as_of={quote(self.point_name, safe='')}")

    def _prefix(self, digest: str, n: int) -> bytes:
        return self.installation.blobs.head(digest, n)

    def _schema(self, uuid: str, version: int) -> tuple[str, str, Any] | None:
        """(name, kind, document) of a schema version that declares a kind, else None."""
        key = (uuid, version)
        if key not in self.kind_schemas:
            found: tuple[str, str, Any] | None = None
            with self.installation.db.read() as conn:
                stored = reads.version(conn, self.dataset_id, uuid, version)
            if stored is not None:
                document = json.loads(self.installation.blobs.get(stored.hash))
                try:
                    kind = label_kinds.declared_kind(document)
                except label_kinds.UnknownKind:
                    kind = None
                if kind is not None:
                    found = (str(stored.name), kind, document)
            self.kind_schemas[key] = found
        return self.kind_schemas[key]

    def _annotation(self, row: ContentRow, read: bytes | None | BaseException,
                    images: dict[str, Image]) -> None:
        assert row.schema_uuid is not None and row.schema_version is not None
        if len(row.objects) != 1:
            self.report.skip_annotation(row, f"it links {len(row.objects)} objects; a label "
                                             "format needs exactly one per annotation")
            return
        image = images.get(row.objects[0][0])
        if image is None:
            self.report.skip_annotation(row, f"its object {row.objects[0][0]} is not in the "
                                             f"export (see skipped objects)")
            return
        schema = self._schema(row.schema_uuid, row.schema_version)
        if schema is None:
            self.report.skip_annotation(row, "its schema declares no label kind "
                                             f"({label_kinds.KIND_KEYWORD})")
            return
        schema_name, kind, _ = schema
        if kind not in FORMATS[self.format]:
            self.report.skip_annotation(
                row, f"its label kind is {kind}; {self.format} holds "
                     f"{', '.join(k for k in label_kinds.KINDS if k in FORMATS[self.format])}")
            return
        if isinstance(read, FileNotFoundError):
            self.report.skip_annotation(row, "its bytes are missing from the blob store")
            return
        if isinstance(read, BaseException):
            raise read
        assert read is not None
        document = json.loads(read)
        misfit = label_kinds.misfit(kind, document)
        if misfit is not None:
            self.report.skip_annotation(row, f"it does not have the shape of the {kind} kind: "
                                             f"{misfit}")
            return
        labels = label_kinds.labels_of(kind, document)
        if self.format in IMAGE_FORMATS:
            assert image.shape is not None
            outside = _outside(labels, image.shape)
            if outside is not None:
                self.report.skip_annotation(row, outside)
                return
        if self._spool is None:  # (closed with the export; large buffer: records are small)
            self._spool = tempfile.TemporaryFile(buffering=1024 * 1024)  # noqa: SIM115
        record = marshal.dumps((row.uuid, row.version, schema_name, kind,
                                [_as_tuple(found) for found in labels]))
        image.annotations.append((self._spooled, len(record)))
        self._spool.write(record)
        self._spooled += len(record)
        self.exported_annotations += 1
        self.labels += len(labels)
        self.used_schemas.add((schema_name, kind))
        for found in labels:
            if found.label is not None:
                self.seen_labels.add(found.label)
                if found.points:
                    self.point_names.setdefault(found.label, set()).update(
                        p.name for p in found.points)

    # - what the formats share -

    def location(self, image: Image) -> str:
        """Where a record says the object is: its file in the export (with files, relative to
        the export's folder), else the URL of its bytes."""
        return f"{self.images_folder}/{image.path}" if self.with_files else self.url(image)

    def annotations_of(self, image: Image) -> Iterator[Annotated]:
        """The image's exported annotations, read back from the spool (mapped into memory:
        the records are read in image order, which is not the order they were written in)."""
        if not image.annotations:
            return
        if self._spool_map is None:
            assert self._spool is not None
            self._spool.flush()
            self._spool_map = mmap.mmap(self._spool.fileno(), 0, access=mmap.ACCESS_READ)
        for offset, size in image.annotations:
            uuid, version, schema, kind, labels = marshal.loads(
                self._spool_map[offset:offset + size])
            yield Annotated(uuid, version, schema, kind, [_from_tuple(t) for t in labels])

    def classes(self) -> list[str]:
        """The class list: the label enums of the exported kind schemas, else the sorted
        distinct labels (label_kinds.class_list)."""
        schemas = [(kind, document) for found in self.kind_schemas.values()
                   if found is not None and (found[0], found[1]) in self.used_schemas
                   for _, kind, document in [found]]
        return label_kinds.class_list(schemas, self.seen_labels)

    def keypoint_names(self, label: str) -> list[str]:
        """A keypoints label's point names: the schema's enum, else the sorted distinct names."""
        for found in self.kind_schemas.values():
            if found is not None and found[1] == label_kinds.KEYPOINTS:
                listed = label_kinds.schema_keypoint_names(found[2])
                if listed:
                    return listed
        return sorted(self.point_names.get(label, ()))

    # - pass 2 -

    def files(self) -> Iterator[OutputFile]:
        """The export's files, in their fixed order: the object files (with files), then the
        format's files, then export-report.json."""
        from .formats import writer

        self.gather()
        if self.with_files:
            for image in self.images:
                yield OutputFile(self.location(image), self._object_chunks(image), image.size,
                                 image.sha256, compress=False)
        try:
            yield from writer(self.format)(self)
            yield OutputFile(REPORT_FILE, lambda: iter([self.report_bytes()]))
        finally:
            if self._spool_map is not None:
                self._spool_map.close()
                self._spool_map = None
            if self._spool is not None:
                self._spool.close()
                self._spool = None

    def _object_chunks(self, image: Image) -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            stream = self.installation.blobs.read_range(image.sha256, 0, image.size - 1)
            try:
                yield from stream
            finally:
                stream.close()
        return chunks

    def report_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "point": self.point.as_json(), "at": self.point_name,
            "format": self.format, "files": self.with_files,
            "exported": {"images": len(self.images), "annotations": self.exported_annotations,
                         "labels": self.labels},
            "skipped": {"annotations": self.report.skipped_annotations,
                        "objects": self.report.skipped_objects},
        }

    def report_bytes(self) -> bytes:
        return (json.dumps(self.report_json(), ensure_ascii=False, indent=1, sort_keys=True)
                + "\n").encode("utf-8")

    def summary_line(self, where: str) -> str:
        return summary_line(self.report_json(), where)


def summary_line(report: dict[str, Any], where: str) -> str:
    """An export's last line, from its report: what was written, and what was left out."""
    exported, skipped = report["exported"], report["skipped"]
    things = "images" if report["format"] in IMAGE_FORMATS else "objects"
    line = (f"Exported {report['at']} of {report['dataset']} as {report['format']} to {where}: "
            f"{exported['images']} {things}, {exported['labels']} labels from "
            f"{exported['annotations']} annotations")
    skipped_a, skipped_o = len(skipped["annotations"]), len(skipped["objects"])
    if skipped_a or skipped_o:
        return (f"{line}; SKIPPED {skipped_a} annotations and {skipped_o} objects that do not "
                f"fit the format (listed with reasons in {REPORT_FILE}).")
    return f"{line}; nothing skipped."


def open_export(installation: Installation, dataset: str, point_text: str, format: str,
                files: bool, base_url: str = "", release_only: bool = False) -> LabelExport:
    """An export of the content at `point_text` (a release name, or an event uuid unless
    `release_only`): 400 for a malformed point or format, 404 for an unknown one."""
    if format not in FORMATS:
        raise Invalid(f"'format' must be one of {', '.join(FORMATS)}; got {format!r}.")
    needed = {"parquet": ["PIL", "pyarrow"], "csv": []}.get(format, ["PIL"])
    for module in needed:
        if importlib.util.find_spec(module) is None:
            raise NotInstalled(f"The {format} format needs {PACKAGES[module]}, which this "
                               "installation lacks: pip install 'gonk[labels]'.")
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset)
        if release_only:
            name = validation.release_name(point_text)
            found = stored_releases.get(conn, ds.id, name)
            if found is None:
                raise NotFound(f"No release named {name} in dataset {dataset}.")
            point = Point(found.event_seq, found.event_uuid, found.event_integrity)
            expected = found.objects + found.schemas + found.annotations
        else:
            expected = None
            point = resolve_point(conn, ds.id, point_text, "as_of")
            if validation.is_uuid(point_text):
                point_text = point.uuid
    job = LabelExport(installation, dataset, point, point_text, format, files, base_url)
    job.expected_versions = expected
    return job


READERS = 8
"""Threads that read bytes ahead of gather from a remote blob store (S3): each read waits on a
round trip, not on Python, so several at once keep gather busy."""
READ_AHEAD = 512  # versions whose reads may be under way ahead of the one gather is at


def _read_ahead(rows: Iterable[ContentRow], read: Callable[[ContentRow], bytes | None],
                threads: int) -> Iterator[tuple[ContentRow, bytes | None | BaseException]]:
    """Each row with what `read` gave for it (or the exception it raised), in the rows' order;
    with threads, up to READ_AHEAD reads run ahead on that many threads."""
    if not threads:
        for row in rows:
            try:
                yield row, read(row)
            except Exception as exc:  # handed to gather, as from a thread
                yield row, exc
        return
    pending: deque[tuple[ContentRow, Future[bytes | None]]] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="gonk-export-read") as pool:
        try:
            for row in rows:
                pending.append((row, pool.submit(read, row)))
                if len(pending) >= READ_AHEAD:
                    yield _settled(*pending.popleft())
            while pending:
                yield _settled(*pending.popleft())
        finally:
            for _, future in pending:
                future.cancel()


def _settled(row: ContentRow, future: Future[bytes | None]
             ) -> tuple[ContentRow, bytes | None | BaseException]:
    try:
        return row, future.result()
    except Exception as exc:  # handed to gather, which knows what each one means
        return row, exc


def _as_tuple(found: Label) -> tuple[Any, ...]:
    """A label as plain values marshal can write (the spool's records)."""
    return (found.label, found.bbox, found.score, found.polygons, found.rle, found.iscrowd,
            tuple((p.name, p.x, p.y, p.visible) for p in found.points), found.text,
            found.attributes)


def _from_tuple(values: tuple[Any, ...]) -> Label:
    label, bbox, score, polygons, rle, iscrowd, points, text, attributes = values
    return Label(label, bbox, score, polygons, rle, iscrowd,
                 tuple(label_kinds.Point(*p) for p in points), text, attributes)


def _outside(labels: list[Label], shape: ImageSize) -> str | None:
    """Why a label lies outside its image (None: every one is inside)."""
    for index, found in enumerate(labels):
        box = label_kinds.label_bbox(found)
        if box is None:
            continue
        x, y, width, height = box
        if (x < -BOX_TOLERANCE or y < -BOX_TOLERANCE
                or x + width > shape.width + BOX_TOLERANCE
                or y + height > shape.height + BOX_TOLERANCE):
            return (f"label {index} ({found.label}) has box [{x}, {y}, {width}, {height}], "
                    f"outside its {shape.width}x{shape.height} image")
    return None


class _ImagePlanner:
    """Object paths under images/ (exporting.PathPlanner's rules); with `stems`, also unique
    once their extension is dropped, for formats that name label files after images."""

    def __init__(self, stems: bool) -> None:
        self.paths = PathPlanner()
        self.stems: set[str] | None = set() if stems else None

    def place(self, name: str | None, uuid: str, version: int) -> str:
        path = self.paths.place(name, uuid, version).path
        if self.stems is not None:
            key = fold_name(stem(path))
            if key in self.stems:
                path = renamed_path(name, uuid, version)
                key = fold_name(stem(path))
            self.stems.add(key)
        return path


def stem(path: str) -> str:
    """The path without its last component's extension: `a/b.jpg` -> `a/b`."""
    folder, _, last = path.rpartition("/")
    base = last.rsplit(".", 1)[0] if "." in last.lstrip(".") else last
    return f"{folder}/{base}" if folder else base
