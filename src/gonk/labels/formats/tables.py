"""Tables: CSV (one row per label) and Parquet (one row per object, labels as nested columns).

`labels.csv` columns, in this order:

    name, uuid, version, sha256    the object's name, uuid, version and sha256
    location                       its file in the export (with files), else its bytes' URL
    annotation, annotation_version the annotation the label comes from
    schema, kind                   the annotation's schema name and label kind
    label                          the class label (empty for a caption)
    x, y, width, height            the box in pixels, where the label has one (a detection
                                   box; the extent of a segment's polygons or mask, or of an
                                   instance's keypoints)
    score                          the box's score, where it has one
    text                           the caption, for the caption kind

An object without any exported label still has one row, with the label columns empty, so
that the table lists every object of the content.

`labels.parquet`, one row per object (in manifest order): name, uuid, version, sha256,
mimetype, size, location, width and height (from the image header; null when the object is
not an image Pillow can read), annotations (the uuids), and one list column per kind:
classifications (labels), boxes ({label, x, y, width, height, score}), segments ({label,
polygons as lists of [x, y] points, rle as its JSON text, iscrowd}), keypoints ({label, bbox,
points: {name, x, y, visible}}) and captions (texts). pyarrow, pandas and Hugging Face's
`datasets.load_dataset("parquet", data_files=...)` read it.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...domain import label_kinds
from . import CHUNK, buffered, number

if TYPE_CHECKING:
    from ..export import Image, LabelExport, OutputFile

CSV_COLUMNS = ("name", "uuid", "version", "sha256", "location", "annotation",
               "annotation_version", "schema", "kind", "label", "x", "y", "width", "height",
               "score", "text")
ROW_GROUP = 10_000


def csv_files(export: LabelExport) -> Iterator[OutputFile]:
    from ..export import OutputFile

    yield OutputFile("labels.csv", lambda: buffered(_csv_lines(export)))


def _csv_lines(export: LabelExport) -> Iterator[str]:
    out = io.StringIO()
    table = csv.writer(out, lineterminator="\n")
    table.writerow(CSV_COLUMNS)
    for image in export.images:
        head = [image.name or "", image.uuid, image.version, image.sha256,
                export.location(image)]
        wrote = False
        for annotated in export.annotations_of(image):
            for found in annotated.labels:
                box = label_kinds.label_bbox(found)
                table.writerow([
                    *head, annotated.uuid, annotated.version, annotated.schema, annotated.kind,
                    found.label or "", *([number(v) for v in box] if box else [""] * 4),
                    "" if found.score is None else number(found.score), found.text or ""])
                wrote = True
        if not wrote:
            table.writerow(head + [""] * (len(CSV_COLUMNS) - len(head)))
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def _schema() -> Any:
    import pyarrow as pa

    point = pa.list_(pa.float64())
    return pa.schema([
        ("name", pa.string()), ("uuid", pa.string()), ("version", pa.int64()),
        ("sha256", pa.string()), ("mimetype", pa.string()), ("size", pa.int64()),
        ("location", pa.string()), ("width", pa.int64()), ("height", pa.int64()),
        ("annotations", pa.list_(pa.string())),
        ("classifications", pa.list_(pa.string())),
        ("boxes", pa.list_(pa.struct([("label", pa.string()), ("x", pa.float64()),
                                      ("y", pa.float64()), ("width", pa.float64()),
                                      ("height", pa.float64()), ("score", pa.float64())]))),
        ("segments", pa.list_(pa.struct([("label", pa.string()),
                                         ("polygons", pa.list_(pa.list_(point))),
                                         ("rle", pa.string()), ("iscrowd", pa.bool_())]))),
        ("keypoints", pa.list_(pa.struct([
            ("label", pa.string()), ("bbox", point),
            ("points", pa.list_(pa.struct([("name", pa.string()), ("x", pa.float64()),
                                           ("y", pa.float64()), ("visible", pa.bool_())])))]))),
        ("captions", pa.list_(pa.string())),
    ])


def _row(export: LabelExport, image: Image) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": image.name, "uuid": image.uuid, "version": image.version,
        "sha256": image.sha256, "mimetype": image.mimetype, "size": image.size,
        "location": export.location(image),
        "width": image.shape.width if image.shape else None,
        "height": image.shape.height if image.shape else None,
        "annotations": [],
        "classifications": [], "boxes": [], "segments": [], "keypoints": [], "captions": []}
    for annotated in export.annotations_of(image):
        row["annotations"].append(annotated.uuid)
        for found in annotated.labels:
            if annotated.kind == label_kinds.CLASSIFICATION:
                row["classifications"].append(found.label)
            elif annotated.kind == label_kinds.DETECTION:
                assert found.bbox is not None
                x, y, w, h = found.bbox
                row["boxes"].append({"label": found.label, "x": x, "y": y, "width": w,
                                     "height": h, "score": found.score})
            elif annotated.kind == label_kinds.SEGMENTATION:
                row["segments"].append({
                    "label": found.label,
                    "polygons": [[list(p) for p in polygon] for polygon in found.polygons],
                    "rle": None if found.rle is None else json.dumps(
                        found.rle, sort_keys=True, separators=(",", ":")),
                    "iscrowd": found.iscrowd})
            elif annotated.kind == label_kinds.KEYPOINTS:
                row["keypoints"].append({
                    "label": found.label,
                    "bbox": None if found.bbox is None else list(found.bbox),
                    "points": [{"name": p.name, "x": p.x, "y": p.y, "visible": p.visible}
                               for p in found.points]})
            else:
                row["captions"].append(found.text)
    return row


def parquet_files(export: LabelExport) -> Iterator[OutputFile]:
    from ..export import OutputFile

    yield OutputFile("labels.parquet", lambda: _parquet_chunks(export))


def _parquet_chunks(export: LabelExport) -> Iterator[bytes]:
    """The Parquet file, written in row groups of ROW_GROUP objects to a temporary file (the
    format's footer comes last, so the file is complete only at its end), then read out."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("The parquet format needs pyarrow: pip install "
                          "'gonk[labels]'.") from None
    schema = _schema()
    with tempfile.TemporaryFile() as spool:
        with pq.ParquetWriter(spool, schema, compression="zstd") as out:
            rows: list[dict[str, Any]] = []
            for image in export.images:
                rows.append(_row(export, image))
                if len(rows) == ROW_GROUP:
                    out.write_table(pa.Table.from_pylist(rows, schema=schema))
                    rows = []
            if rows or not export.images:
                out.write_table(pa.Table.from_pylist(rows, schema=schema))
        spool.seek(0)
        while chunk := spool.read(CHUNK):
            yield chunk
