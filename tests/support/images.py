"""Small generated images for the label-format tests (Pillow): real PNG and JPEG files of a
given size, different for different arguments."""

from __future__ import annotations

import io


def image_bytes(format: str, width: int, height: int, colour: tuple[int, int, int] = (200, 30, 60)
                ) -> bytes:
    """A `width` x `height` RGB image in `format` (PNG, JPEG...), filled with `colour`."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format=format)
    return out.getvalue()
