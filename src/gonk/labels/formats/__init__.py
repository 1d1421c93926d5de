"""The label formats: each module turns a gathered LabelExport into its files (OutputFile),
in a fixed order, with no wall-clock value inside, so an export is byte-identical every time."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..export import LabelExport, OutputFile

Writer = Callable[["LabelExport"], Iterator["OutputFile"]]
CHUNK = 256 * 1024


def writer(format: str) -> Writer:
    """The writer of a format (one of labels.export.FORMATS)."""
    from . import coco, tables, voc, yolo

    writers: dict[str, Writer] = {"coco": coco.files, "yolo": yolo.files, "voc": voc.files,
                                  "csv": tables.csv_files, "parquet": tables.parquet_files}
    return writers[format]


def compact(value: Any) -> str:
    """JSON without spaces, non-ASCII kept as it is (numbers as they were stored)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def buffered(parts: Iterable[str]) -> Iterator[bytes]:
    """Text parts as UTF-8 chunks of about CHUNK bytes."""
    held: list[str] = []
    size = 0
    for part in parts:
        held.append(part)
        size += len(part)
        if size >= CHUNK:
            yield "".join(held).encode("utf-8")
            held, size = [], 0
    if held:
        yield "".join(held).encode("utf-8")


def number(value: float) -> str:
    """A coordinate as text: an integer without a decimal point, else Python's shortest
    round-tripping form (so 12 stays "12" and 0.1 stays "0.1")."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) < 2**53):
        return str(int(value))
    return repr(float(value))
