"""Thumbnails of image objects (`GET .../objects/<uuid>/<version>/thumbnail?size=N`), made with
Pillow and cached on local disk by content hash, so each is computed once.

What is made: the first frame of a JPEG, PNG, WebP, GIF, TIFF or BMP (no other format is even
opened: Pillow's other plugins, EPS through Ghostscript among them, are never reached), turned
as its EXIF orientation says, scaled so that its longest side is `size` pixels (never enlarged),
as JPEG when it is opaque and as PNG when it has transparency. 16-bit and float images are
stretched from their darkest to their lightest value. An ICC profile is kept when the colours
stay in its colour space.

What is refused: anything that is not an image of those formats, or is corrupt
(UnsupportedMediaType, 415); an image of more than `Limits.thumbnail_max_pixels` pixels
(GONK_THUMBNAIL_MAX_PIXELS, default 100 million), by the dimensions in its header, read with
labels/images.image_size before any pixel is decoded (TooLarge, 413). A JPEG is decoded at the
smallest scale (1/2, 1/4, 1/8) still at least as large as the thumbnail (Pillow's draft mode).
At most RENDERS_AT_ONCE thumbnails are decoded at once in a process, which bounds the memory.

The cache: one file per thumbnail, `<cache>/v<FORMAT_VERSION>/<ab>/<sha256>-<size>` (a JPEG or
PNG file, or a small JSON refusal for bytes that are no image), where <cache> is
GONK_THUMBNAIL_CACHE or `<data dir>/thumbnails`. Written to a temporary file in the same folder
and renamed, so a reader sees a whole file or none, whatever the number of threads, processes
or servers sharing the folder. Local disk even for S3 installations (a thumbnail is read far
more often than made). Best effort: a cache that cannot be written is logged and the thumbnail
is served all the same. `gonk-api gc` prunes it (see `prune`); deleting it is always safe.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .domain.errors import NotInstalled, TooLarge, UnsupportedMediaType
from .installation import Installation
from .labels.images import ImageSize, image_size
from .storage.blobs import BlobStoreUnavailable, is_digest

log = logging.getLogger("gonk.thumbnails")

FORMAT_VERSION = 1  # bump when what a thumbnail looks like changes: old files are then unused
MIN_SIZE, MAX_SIZE, DEFAULT_SIZE = 16, 1024, 256
INPUT_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")  # JPEG opens MPO (cameras) too
CACHE_ENV = "GONK_THUMBNAIL_CACHE"
CACHE_BYTES_ENV = "GONK_THUMBNAIL_CACHE_BYTES"
DEFAULT_CACHE_BYTES = 1024**3
RENDERS_AT_ONCE = 2
JPEG_QUALITY = 85
SPOOL_BYTES = 16 * 1024**2  # a source read from S3 stays in memory up to this, then on disk
TOUCH_AFTER_SECONDS = 86400  # a hit older than this marks its file as used (for pruning)
JPEG, PNG = "image/jpeg", "image/png"
PILLOW_MISSING = ("Thumbnails need Pillow, which this server lacks: pip install "
                  "'gonk[labels]'.")


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    mimetype: str  # JPEG or PNG


def etag(digest: str, size: int) -> str:
    """The thumbnail's entity tag (unquoted): the source's sha256, the size and the format
    version determine its bytes."""
    return f"thumb{FORMAT_VERSION}-{size}-{digest}"


# --- rendering ---------------------------------------------------------------------------------


def _pillow() -> tuple[Any, Any]:
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise NotInstalled(PILLOW_MISSING) from None
    return Image, ImageOps


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise TooLarge(f"The image is {width} x {height} pixels, more than the "
                       f"{max_pixels} this server makes thumbnails of "
                       "(GONK_THUMBNAIL_MAX_PIXELS); it was not decoded.")


def render(source: IO[bytes] | Path, size: int, max_pixels: int) -> Thumbnail:
    """The thumbnail of the image in `source` (a file or a path) whose longest side is at most
    `size`. Raises UnsupportedMediaType for no image of INPUT_FORMATS or a corrupt one, TooLarge
    past `max_pixels` (checked again here, on the header Pillow read)."""
    Image, ImageOps = _pillow()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings (odd EXIF, palettes) are noise
            with Image.open(source, formats=INPUT_FORMATS) as image:
                width, height = image.size
                check_pixels(width, height, max_pixels)
                return _scaled(image, size, Image, ImageOps)
    except (TooLarge, NotInstalled):
        raise
    except MemoryError:
        raise TooLarge("The image is too large to decode on this server.") from None
    except Exception as exc:  # Pillow's refusals are of many types (OSError, SyntaxError...)
        reason = str(exc).split("\n", 1)[0][:200]
        if type(exc).__name__ == "UnidentifiedImageError":
            raise UnsupportedMediaType(
                "This object is not an image thumbnails can be made of (JPEG, PNG, WebP, GIF, "
                "TIFF or BMP).") from None
        log.info("thumbnail refused: %s: %s", type(exc).__name__, reason)
        raise UnsupportedMediaType(f"This image cannot be decoded: it is corrupt or truncated "
                                   f"({type(exc).__name__}: {reason}).") from None


def _scaled(image: Any, size: int, Image: Any, ImageOps: Any) -> Thumbnail:
    source_mode = image.mode
    icc = image.info.get("icc_profile")
    if image.format in ("JPEG", "MPO"):
        image.draft(None, (size, size))  # decode at 1/2, 1/4 or 1/8 scale when that suffices
    image.load()
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info
                              else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")  # 16-bit: Pillow resizes 32-bit integers, not these
    elif image.mode in ("RGBa", "La"):
        image = image.convert("RGBA" if image.mode == "RGBa" else "LA")
    transposed = ImageOps.exif_transpose(image) if image.getexif().get(0x0112, 1) != 1 \
        else image
    transposed.thumbnail((size, size), Image.Resampling.LANCZOS)
    thumb = _displayable(transposed)
    if thumb.mode in ("RGBA", "LA") and thumb.getchannel("A").getextrema()[0] == 255:
        thumb = thumb.convert("RGB" if thumb.mode == "RGBA" else "L")  # alpha, all opaque
    keep_icc = icc and _family(source_mode) == _family(thumb.mode)
    out = io.BytesIO()
    if thumb.mode in ("RGBA", "LA"):
        thumb.save(out, "PNG", **({"icc_profile": icc} if keep_icc else {}))
        return Thumbnail(out.getvalue(), PNG)
    thumb.save(out, "JPEG", quality=JPEG_QUALITY, **({"icc_profile": icc} if keep_icc else {}))
    return Thumbnail(out.getvalue(), JPEG)


def _displayable(image: Any) -> Any:
    """L, LA, RGB or RGBA: integer and float images stretched to 0..255, other colour spaces
    (CMYK, YCbCr, LAB, HSV) in RGB."""
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if image.mode in ("I", "F"):
        low, high = image.getextrema()
        scale = 255.0 / (high - low) if high > low else 0.0
        return image.point(lambda v: v * scale - low * scale).convert("L")
    return image.convert("RGB")


def _family(mode: str) -> str:
    return "RGB" if mode in ("RGB", "RGBA", "RGBX") else "L" if mode in ("L", "LA") else mode


# --- the cache ---------------------------------------------------------------------------------


def cache_root(installation: Installation) -> Path:
    configured = os.environ.get(CACHE_ENV, "").strip()
    return Path(configured).expanduser() if configured else installation.data_dir / "thumbnails"


class ThumbnailCache:
    """One file per (source sha256, size) under `root`/v<FORMAT_VERSION>/; see the module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = root / f"v{FORMAT_VERSION}"
        self._warned = False

    def path(self, digest: str, size: int) -> Path:
        return self.base / digest[:2] / f"{digest}-{size}"

    def get(self, digest: str, size: int) -> Thumbnail | UnsupportedMediaType | None:
        """The cached thumbnail, the cached refusal of bytes that are no image, or None."""
        path = self.path(digest, size)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
                modified = os.fstat(handle.fileno()).st_mtime
        except OSError:
            return None
        if modified < time.time() - TOUCH_AFTER_SECONDS:
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: kept longest by `prune`
        if data.startswith(b"\xff\xd8\xff"):
            return Thumbnail(data, JPEG)
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return Thumbnail(data, PNG)
        if data.startswith(b"{"):
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                return UnsupportedMediaType(str(json.loads(data)["error"]))
        return None  # a torn or foreign file: made again, and replaced

    def put(self, digest: str, size: int, data: bytes) -> None:
        """Write atomically (a temporary file in the same folder, flushed, then renamed); a
        failure is logged once and otherwise ignored."""
        final = self.path(digest, size)
        temporary = final.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            if not self._warned:
                self._warned = True
                log.warning("thumbnails are not being cached: cannot write to %s: %s",
                            self.root, exc)

    def entries(self) -> Iterator[tuple[Path, str | None, int, float]]:
        """Every file of the cache: (path, the source digest or None for a temporary or old
        file, bytes, modification time)."""
        if not self.root.is_dir():
            return
        for path in self.root.rglob("*"):
            try:
                info = path.stat()
            except OSError:
                continue
            if not path.is_file():
                continue
            digest = path.name.rpartition("-")[0]
            current = path.parent.parent == self.base and is_digest(digest) \
                and not path.name.startswith(".")
            yield path, digest if current else None, info.st_size, info.st_mtime


_caches: dict[Path, ThumbnailCache] = {}
_guard = threading.Lock()
_in_flight: dict[tuple[str, int], threading.Lock] = {}
_renders = threading.BoundedSemaphore(RENDERS_AT_ONCE)


def cache_for(installation: Installation) -> ThumbnailCache:
    root = cache_root(installation)
    with _guard:
        return _caches.setdefault(root, ThumbnailCache(root))


@contextlib.contextmanager
def _single_flight(key: tuple[str, int]) -> Iterator[None]:
    """Threads of one process asking for the same thumbnail at once: one makes it, the others
    wait and then find it in the cache."""
    with _guard:
        lock = _in_flight.setdefault(key, threading.Lock())
    with lock:
        try:
            yield
        finally:
            with _guard:
                _in_flight.pop(key, None)


def thumbnail(installation: Installation, digest: str, blob_size: int, size: int) -> Thumbnail:
    """The thumbnail of the blob `digest` (of `blob_size` bytes), from the cache or made now
    and cached. Raises UnsupportedMediaType (415), TooLarge (413), NotInstalled (501), or
    BlobStoreUnavailable (503)."""
    cache = cache_for(installation)
    found = cache.get(digest, size)
    if found is None:
        with _single_flight((digest, size)):
            found = cache.get(digest, size)
            if found is None:
                found = _make(installation, cache, digest, blob_size, size)
    if isinstance(found, UnsupportedMediaType):
        raise found
    return found


def _make(installation: Installation, cache: ThumbnailCache, digest: str, blob_size: int,
          size: int) -> Thumbnail | UnsupportedMediaType:
    _pillow()
    blobs = installation.blobs
    max_pixels = installation.limits.thumbnail_max_pixels
    try:
        shape = image_size(lambda n: blobs.head(digest, n), blob_size)
        if isinstance(shape, ImageSize):
            check_pixels(shape.width, shape.height, max_pixels)  # before any pixel is decoded
            with _renders, _source(installation, digest, blob_size) as source:
                made: Thumbnail | UnsupportedMediaType = render(source, size, max_pixels)
        else:
            made = UnsupportedMediaType(f"This object is not an image thumbnails can be made of "
                                        f"(JPEG, PNG, WebP, GIF, TIFF or BMP): {shape}.")
    except UnsupportedMediaType as refusal:
        made = refusal
    except FileNotFoundError:
        raise BlobStoreUnavailable(f"the blob {digest} is missing from "
                                   f"{blobs.describe()}") from None
    if isinstance(made, Thumbnail):
        cache.put(digest, size, made.data)
    else:
        cache.put(digest, size, json.dumps({"error": made.message}).encode())
    return made


@contextlib.contextmanager
def _source(installation: Installation, digest: str, blob_size: int) -> Iterator[IO[bytes] | Path]:
    """The blob as Pillow reads it: its file, for a local store; else spooled from the store
    (in memory up to SPOOL_BYTES, then in a temporary file)."""
    blobs = installation.blobs
    path = blobs.local_path(digest)
    if path is not None:
        yield path
        return
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        stream = blobs.read_range(digest, 0, blob_size - 1)
        try:
            for chunk in stream:
                spool.write(chunk)
        finally:
            stream.close()
        spool.seek(0)
        yield spool


# --- pruning (gonk-api gc) ---------------------------------------------------------------------


@dataclass
class Pruned:
    files: int = 0
    bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0


def cache_limit() -> int:
    text = os.environ.get(CACHE_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_CACHE_BYTES
    try:
        return max(0, int(text))
    except ValueError:
        log.warning("%s must be a number of bytes, not %r: using the default, %d",
                    CACHE_BYTES_ENV, text, DEFAULT_CACHE_BYTES)
        return DEFAULT_CACHE_BYTES


def prune(installation: Installation, referenced: set[str], older_than: float,
          dry_run: bool = False, max_bytes: int | None = None) -> Pruned:
    """Remove from the cache: thumbnails of bytes no committed event references, files of other
    format versions, temporary files older than `older_than`; then, while the rest is larger
    than `max_bytes` (GONK_THUMBNAIL_CACHE_BYTES, default 1 GiB), the least recently used."""
    limit = cache_limit() if max_bytes is None else max_bytes
    result = Pruned()
    kept: list[tuple[float, int, Path]] = []
    for path, digest, size, modified in cache_for(installation).entries():
        stale = digest not in referenced if digest is not None else modified < older_than
        if stale:
            _remove(path, size, result, dry_run)
        else:
            kept.append((modified, size, path))
    total = sum(size for _, size, _ in kept)
    kept.sort()
    while kept and total > limit:
        _, size, path = kept.pop(0)
        _remove(path, size, result, dry_run)
        total -= size
    result.kept, result.kept_bytes = len(kept), total
    return result


def _remove(path: Path, size: int, result: Pruned, dry_run: bool) -> None:
    if not dry_run:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot remove %s: %s", path, exc)
            return
    result.files += 1
    result.bytes += size
