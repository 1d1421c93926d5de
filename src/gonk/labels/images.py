"""An image's width and height, read from its header with Pillow: never by decoding it.

Pillow's `Image.open` reads only as far as the header; the bytes are read from the blob store
in growing prefixes (64 KiB, then 1 MiB, then 16 MiB: a JPEG's size comes after its EXIF and
ICC data, which can be large), so a million-pixel photo costs one 64 KiB read.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass

PREFIXES = (64 * 1024, 1024 * 1024, 16 * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class ImageSize:
    width: int
    height: int
    depth: int  # colour channels (bands): 1 grey, 3 RGB, 4 RGBA...


def pillow() -> object:
    """The PIL.Image module, or an ImportError that says which extra installs it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("Label formats with images need Pillow: pip install "
                          "'gonk[labels]'.") from None
    # only headers are read, never pixels: an image's size alone is no decompression bomb
    Image.MAX_IMAGE_PIXELS = None
    return Image


def image_size(read_prefix: Callable[[int], bytes], size: int) -> ImageSize | str:
    """The size of the image whose first n bytes `read_prefix(n)` returns (`size`: its whole
    length), or why it has none (not an image Pillow knows, or a broken header)."""
    Image = pillow()
    reason = "an empty file is not an image"
    for prefix in PREFIXES:
        data = read_prefix(min(prefix, size))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(data)) as image:  # type: ignore[attr-defined]
                    width, height = image.size
                    return ImageSize(int(width), int(height), len(image.getbands()))
        except Exception as exc:  # Pillow's refusals are of many types (OSError, SyntaxError...)
            reason = _reason(exc)
        if prefix >= size:
            break
    return reason


def _reason(exc: Exception) -> str:
    text = str(exc).split("\n", 1)[0][:200]
    if "cannot identify image file" in text:
        return "not an image Pillow can read"
    return f"its image header cannot be read ({type(exc).__name__}: {text})"
