"""Pascal VOC: one XML file per image, in VOC's layout.

    Annotations/<p>.xml       per image (<p>: its path under JPEGImages/ without the
                              extension): folder, filename (the path), source (database
                              "Gonk", and the image's URL without files), size (width, height,
                              depth), segmented 0, and one <object> per box: name, pose
                              Unspecified, truncated 0, difficult 0, and bndbox
    ImageSets/Main/default.txt  every <p>, one per line
    labels.txt                the class names, one per line
    labelmap.txt              the class names as CVAT and Datumaro read a VOC label map
                              (`name:::` lines: no colours, parts or actions); left out when a
                              class name holds ':' or a line break, which that file cannot say

VOC boxes are 1-based and inclusive: a box [x, y, width, height] (pixels from the top-left,
0-based) is written as xmin = x + 1, ymin = y + 1, xmax = x + width, ymax = y + height (so a box
covering the whole W x H image is 1, 1, W, H); import reads it back the same way.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import buffered, number

if TYPE_CHECKING:
    from ..export import Image, LabelExport, OutputFile


def files(export: LabelExport) -> Iterator[OutputFile]:
    from ..export import OutputFile, stem

    classes = export.classes()
    yield OutputFile("labels.txt", lambda: buffered(f"{name}\n" for name in classes))
    if not any(":" in name or "\n" in name or "\r" in name for name in classes):
        yield OutputFile("labelmap.txt", lambda: buffered(
            ["# label:color_rgb:parts:actions\n", *(f"{name}:::\n" for name in classes)]))
    yield OutputFile("ImageSets/Main/default.txt",
                     lambda: buffered(f"{stem(image.path)}\n" for image in export.images))
    for image in export.images:
        yield OutputFile(f"Annotations/{stem(image.path)}.xml",
                         lambda image=image: iter([_xml(export, image)]))  # type: ignore[misc]


def _xml(export: LabelExport, image: Image) -> bytes:
    assert image.shape is not None
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = export.images_folder
    ET.SubElement(root, "filename").text = image.path
    source = ET.SubElement(root, "source")
    ET.SubElement(source, "database").text = "Gonk"
    if not export.with_files:
        ET.SubElement(source, "url").text = export.url(image)
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(image.shape.width)
    ET.SubElement(size, "height").text = str(image.shape.height)
    ET.SubElement(size, "depth").text = str(image.shape.depth)
    ET.SubElement(root, "segmented").text = "0"
    for annotated in export.annotations_of(image):
        for found in annotated.labels:
            assert found.bbox is not None and found.label is not None
            x, y, w, h = found.bbox
            item = ET.SubElement(root, "object")
            ET.SubElement(item, "name").text = found.label
            ET.SubElement(item, "pose").text = "Unspecified"
            ET.SubElement(item, "truncated").text = "0"
            ET.SubElement(item, "difficult").text = "0"
            box = ET.SubElement(item, "bndbox")
            for tag, value in (("xmin", x + 1), ("ymin", y + 1), ("xmax", x + w),
                               ("ymax", y + h)):
                ET.SubElement(box, tag).text = number(value)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode").encode("utf-8") + b"\n"
