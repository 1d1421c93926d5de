"""YOLO (the layout Ultralytics and Darknet trainers read):

    classes.txt       the class names, one per line; line i is class i (0-based)
    data.yaml         path, train and val (images.txt), nc and names {i: name}: Ultralytics'
                      dataset file
    images.txt        one line per image: ./images/<path> (with files), else its URL
    labels/<p>.txt    one per image, named after its path <p>.<ext> under images/ (a trainer
                      finds it by putting labels/ for images/ and .txt for the extension); one
                      line per box: `class x_center y_center width height`, each coordinate
                      divided by the image's width or height (0 to 1, 6 decimals). An image
                      without boxes gets an empty file (a background image).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import buffered, compact

if TYPE_CHECKING:
    from ..export import Image, LabelExport, OutputFile


def files(export: LabelExport) -> Iterator[OutputFile]:
    from ..export import OutputFile, stem

    classes = export.classes()
    ids = {name: index for index, name in enumerate(classes)}
    yield OutputFile("classes.txt", lambda: buffered(f"{name}\n" for name in classes))
    yield OutputFile("data.yaml", lambda: iter([_data_yaml(export, classes).encode("utf-8")]))
    yield OutputFile("images.txt", lambda: buffered(
        (f"./{export.location(image)}" if export.with_files else export.url(image)) + "\n"
        for image in export.images))
    for image in export.images:
        yield OutputFile(f"labels/{stem(image.path)}.txt",
                         lambda image=image: buffered(_lines(export, image, ids)))  # type: ignore[misc]


def _data_yaml(export: LabelExport, classes: list[str]) -> str:
    names = "".join(f"  {index}: {compact(name)}\n" for index, name in enumerate(classes))
    return (f"# YOLO dataset: {compact(export.dataset)} at {compact(export.point_name)}, "
            "written by gonk-api export\n"
            f"path: .\ntrain: images.txt\nval: images.txt\nnc: {len(classes)}\n"
            + (f"names:\n{names}" if classes else "names: {}\n"))


def _lines(export: LabelExport, image: Image, ids: dict[str, int]) -> Iterator[str]:
    assert image.shape is not None
    width, height = image.shape.width, image.shape.height
    for annotated in export.annotations_of(image):
        for found in annotated.labels:
            assert found.bbox is not None and found.label is not None
            x, y, w, h = found.bbox
            yield (f"{ids[found.label]} {(x + w / 2) / width:.6f} {(y + h / 2) / height:.6f} "
                   f"{w / width:.6f} {h / height:.6f}\n")
