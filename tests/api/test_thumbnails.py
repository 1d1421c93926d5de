"""GET /datasets/<d>/objects/<uuid>/<version>/thumbnail (api/thumbnails.py, gonk/thumbnails.py):
every input format, EXIF orientation, sizes, alpha, HTTP caching, refusals (415, 413, 400, 404,
501), the cache making each thumbnail once; and GET /me. On SQLite + files and PostgreSQL + S3
(the `storage_kind` fixture's default)."""

from __future__ import annotations

import io
import struct
import sys
import time
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gonk import thumbnails
from gonk.storage.blobs import sha256_hex
from tests.support.api import DS, assert_error, create_object, events
from tests.support.http import Client

BASE = f"/datasets/{DS}/objects"


def _upload(client: Client, data: bytes, name: str = "image.bin",
            mimetype: str = "application/octet-stream") -> str:
    resp = client.post(f"{BASE}?name={name}", data=data, content_type=mimetype)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json["uuid"]


def _thumb(client: Client, uuid: str, query: str = "", version: int = 0, **kw: Any) -> Any:
    return client.get(f"{BASE}/{uuid}/{version}/thumbnail{query}", **kw)


def _image(resp: Any) -> Image.Image:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    image = Image.open(io.BytesIO(resp.get_data()))
    image.load()
    return image


def _encoded(image: Image.Image, format: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


def _halves(width: int, height: int) -> Image.Image:
    """Red on the left half, blue on the right."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


def _close(pixel: Any, colour: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=False))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each call of thumbnails.render (the decoding), by the size asked."""
    calls: list[int] = []
    real = thumbnails.render

    def render(source: Any, size: int, max_pixels: int) -> Any:
        calls.append(size)
        return real(source, size, max_pixels)

    monkeypatch.setattr(thumbnails, "render", render)
    return calls


@pytest.fixture(autouse=True)
def _default_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(thumbnails.CACHE_ENV, raising=False)


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP"])
def test_every_input_format_gives_a_jpeg_of_the_size_asked(alice: Client, ds: str,
                                                           format: str) -> None:
    uuid = _upload(alice, _encoded(_halves(600, 300), format), f"a.{format.lower()}")
    resp = _thumb(alice, uuid, "?size=64")
    assert resp.mimetype == "image/jpeg", resp.get_data(as_text=True)[:300]
    image = _image(resp)
    assert image.format == "JPEG" and image.size == (64, 32)
    assert _close(image.getpixel((8, 16)), (255, 0, 0))
    assert _close(image.getpixel((56, 16)), (0, 0, 255))
    # the default size is 256 on the longest side
    assert _image(_thumb(alice, uuid)).size == (256, 128)


def test_gif_first_frame_and_16_bit_and_cmyk(alice: Client, ds: str) -> None:
    frames = [Image.new("RGB", (80, 40), colour) for colour in ((0, 255, 0), (255, 0, 0))]
    gif = _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    thumb = _image(_thumb(alice, _upload(alice, gif, "anim.gif"), "?size=40"))
    assert thumb.size == (40, 20) and _close(thumb.getpixel((20, 10)), (0, 255, 0))

    deep = Image.new("I;16", (64, 64), 0)
    deep.paste(60000, (32, 0, 64, 64))  # dark left, bright right: stretched to black and white
    thumb = _image(_thumb(alice, _upload(alice, _encoded(deep, "PNG"), "deep.png"), "?size=32"))
    assert thumb.mode == "L" and thumb.getpixel((4, 16)) < 20 and thumb.getpixel((28, 16)) > 235

    cmyk = _encoded(Image.new("CMYK", (50, 50), (0, 255, 255, 0)), "JPEG")  # red in CMYK
    thumb = _image(_thumb(alice, _upload(alice, cmyk, "print.jpg"), "?size=20"))
    assert thumb.mode == "RGB" and _close(thumb.getpixel((10, 10)), (255, 0, 0), 60)


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_exif_orientation_is_applied(alice: Client, ds: str, format: str) -> None:
    """Orientation 6 (rotate 90 degrees clockwise to view): a wide image comes back tall, its
    left half on top."""
    exif = Image.Exif()
    exif[0x0112] = 6
    wide = _encoded(_halves(40, 20), format, exif=exif.tobytes())
    thumb = _image(_thumb(alice, _upload(alice, wide, f"w.{format.lower()}")))
    assert thumb.size == (20, 40)  # never enlarged
    assert _close(thumb.getpixel((10, 5)), (255, 0, 0))
    assert _close(thumb.getpixel((10, 35)), (0, 0, 255))
    tiny = _encoded(Image.new("RGB", (2, 1), (9, 9, 9)), format, exif=exif.tobytes())
    assert _image(_thumb(alice, _upload(alice, tiny, f"t.{format.lower()}"))).size == (1, 2)


def test_size_bounds(alice: Client, ds: str) -> None:
    uuid = _upload(alice, _encoded(_halves(2000, 1000), "PNG"), "big.png")
    assert _image(_thumb(alice, uuid, "?size=16")).size == (16, 8)
    assert _image(_thumb(alice, uuid, "?size=1024")).size == (1024, 512)
    for bad in ("15", "1025", "0", "-5", "abc", "", "1e3", "256.0", "٢٥٦", "9" * 40):
        assert_error(_thumb(alice, uuid, f"?size={bad}"), 400, "size")


def test_transparency_gives_a_png_and_opaque_alpha_a_jpeg(alice: Client, ds: str) -> None:
    see_through = Image.new("RGBA", (60, 30), (255, 0, 0, 0))
    see_through.paste((0, 0, 255, 255), (0, 0, 30, 30))
    resp = _thumb(alice, _upload(alice, _encoded(see_through, "PNG"), "alpha.png"))
    assert resp.mimetype == "image/png"
    thumb = _image(resp)
    assert thumb.format == "PNG" and thumb.mode == "RGBA"
    assert thumb.getpixel((50, 15))[3] == 0 and thumb.getpixel((10, 15))[3] == 255

    gif = Image.new("P", (20, 20), 1)
    gif.putpalette([0, 0, 0, 255, 255, 255])
    resp = _thumb(alice, _upload(alice, _encoded(gif, "GIF", transparency=1), "clear.gif"))
    assert resp.mimetype == "image/png" and _image(resp).mode == "RGBA"

    opaque = Image.new("RGBA", (30, 30), (0, 255, 0, 255))
    resp = _thumb(alice, _upload(alice, _encoded(opaque, "PNG"), "opaque.png"))
    assert resp.mimetype == "image/jpeg"


def test_etag_cache_control_and_304(alice: Client, ds: str) -> None:
    data = _encoded(_halves(100, 50), "JPEG")
    uuid = _upload(alice, data, "a.jpg")
    resp = _thumb(alice, uuid, "?size=32")
    tag = resp.headers["ETag"]
    assert tag == f'"thumb{thumbnails.FORMAT_VERSION}-32-{sha256_hex(data)}"'  # strong
    assert "max-age=" in resp.headers["Cache-Control"] and "private" in resp.headers[
        "Cache-Control"]
    again = _thumb(alice, uuid, "?size=32",
                   headers={"x-api-key": alice.key, "If-None-Match": tag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == tag
    for other in ('"something-else"', _thumb(alice, uuid, "?size=33").headers["ETag"]):
        fresh = _thumb(alice, uuid, "?size=32",
                       headers={"x-api-key": alice.key, "If-None-Match": other})
        assert fresh.status_code == 200 and fresh.get_data() == resp.get_data()


def test_not_an_image_or_a_corrupt_one_is_415(alice: Client, ds: str) -> None:
    text = create_object(alice, b"two birds on a branch", "birds.txt")
    assert_error(_thumb(alice, text), 415, "not an image")
    empty = _upload(alice, b"", "empty.png", "image/png")
    assert_error(_thumb(alice, empty), 415)
    png = _encoded(Image.effect_noise((200, 200), 50).convert("RGB"), "PNG")
    truncated = _upload(alice, png[: len(png) // 2], "cut.png", "image/png")
    assert_error(_thumb(alice, truncated), 415, "corrupt")
    jpeg = _encoded(Image.effect_noise((200, 200), 50).convert("RGB"), "JPEG")
    garbled = jpeg[:600] + bytes(range(256)) * 8
    assert_error(_thumb(alice, _upload(alice, garbled, "bad.jpg", "image/jpeg")), 415)
    # a format Pillow reads but thumbnails are not made of (only the six are opened)
    ico = _encoded(Image.new("RGB", (16, 16)), "ICO")
    assert_error(_thumb(alice, _upload(alice, ico, "icon.ico")), 415, "not an image")


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encoded(Image.new("RGB", (64, 64), (5, 5, 5)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5: sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_decompression_bombs_are_413_without_decoding(alice: Client, ds: str,
                                                      counted: list[int]) -> None:
    for data, name in ((_png_header(100_000, 100_000), "bomb.png"),
                       (_jpeg_claiming(60_000, 60_000), "bomb.jpg")):
        uuid = _upload(alice, data, name)
        started = time.monotonic()
        assert_error(_thumb(alice, uuid), 413, "pixels")
        assert time.monotonic() - started < 1.0
    assert counted == []  # refused from the header: never handed to the decoder


def test_a_large_jpeg_is_decoded_at_reduced_scale(alice: Client, ds: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's draft mode: a 4000 x 3000 JPEG is decoded at 1/8 scale (500 x 375) for a
    256-pixel thumbnail, at 1/2 for a 1024-pixel one."""
    from PIL import JpegImagePlugin

    decoded: list[tuple[int, int]] = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def load(self: Any) -> Any:
        result = real_load(self)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", load)
    uuid = _upload(alice, _encoded(_halves(4000, 3000), "JPEG"), "large.jpg")
    assert _image(_thumb(alice, uuid)).size == (256, 192)
    assert _image(_thumb(alice, uuid, "?size=1024")).size == (1024, 768)
    assert (500, 375) in decoded and (2000, 1500) in decoded, decoded
    assert (4000, 3000) not in decoded, decoded  # never decoded in full


def test_the_pixel_limit_is_configurable(alice: Client, ds: str, installation: Any) -> None:
    uuid = _upload(alice, _encoded(Image.new("RGB", (40, 30)), "PNG"), "small.png")
    installation.limits = replace(installation.limits, thumbnail_max_pixels=1199)
    assert_error(_thumb(alice, uuid), 413, "1199")
    installation.limits = replace(installation.limits, thumbnail_max_pixels=1200)
    assert _image(_thumb(alice, uuid)).size == (40, 30)


def test_each_thumbnail_is_made_once(alice: Client, bob: Client, ds: str, installation: Any,
                                     counted: list[int]) -> None:
    data = _encoded(_halves(300, 200), "JPEG")
    uuid = _upload(alice, data, "once.jpg")
    first = _thumb(alice, uuid, "?size=100").get_data()
    assert _thumb(bob, uuid, "?size=100").get_data() == first
    assert _thumb(alice, uuid, "?size=100").get_data() == first
    assert counted == [100]
    _thumb(alice, uuid, "?size=50")
    assert counted == [100, 50]
    cached = installation.data_dir / "thumbnails" / f"v{thumbnails.FORMAT_VERSION}"
    files = sorted(p.name for p in cached.rglob("*") if p.is_file())
    assert files == [f"{sha256_hex(data)}-100", f"{sha256_hex(data)}-50"]
    assert (cached / sha256_hex(data)[:2] / f"{sha256_hex(data)}-100").read_bytes() == first
    # the same bytes in another object (another dataset): the same cached thumbnail
    alice.post("/datasets", {"name": "other"})
    resp = alice.post("/datasets/other/objects?name=copy.jpg", data=data,
                      content_type="image/jpeg")
    again = alice.get(f"/datasets/other/objects/{resp.json['uuid']}/0/thumbnail?size=100")
    assert again.get_data() == first and counted == [100, 50]
    # a corrupt image is found corrupt once too
    broken = _upload(alice, data[: len(data) // 2], "broken.jpg")
    for _ in range(3):
        assert_error(_thumb(alice, broken), 415)
    assert counted == [100, 50, 256]


def test_an_unwritable_cache_still_serves(alice: Client, ds: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          counted: list[int]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(thumbnails.CACHE_ENV, str(blocker / "cache"))
    uuid = _upload(alice, _encoded(_halves(60, 30), "PNG"), "x.png")
    assert _image(_thumb(alice, uuid)).size == (60, 30)
    assert _image(_thumb(alice, uuid)).size == (60, 30)
    assert counted == [256, 256]


def test_unknown_object_version_or_dataset_is_404_and_bad_path_400(alice: Client,
                                                                  ds: str) -> None:
    uuid = _upload(alice, _encoded(_halves(60, 30), "PNG"), "x.png")
    assert_error(_thumb(alice, uuid, version=1), 404)
    assert_error(_thumb(alice, "0b5c1a8e-0000-4000-8000-000000000000"), 404)
    assert_error(alice.get(f"/datasets/nope/objects/{uuid}/0/thumbnail"), 404)
    assert_error(_thumb(alice, "not-a-uuid"), 400)
    assert_error(alice.get(f"{BASE}/{uuid}/x/thumbnail"), 400)
    schema = alice.post(f"/datasets/{DS}/schemas", {"name": "schema-x", "schema": "e30="})
    assert_error(_thumb(alice, schema.json["uuid"]), 404)  # a schema is no object
    resp = alice.get(f"{BASE}/{uuid}/0/thumbnail", headers={})
    assert_error(resp, 401)


def test_as_of(alice: Client, ds: str) -> None:
    before = events(alice)[-1]["uuid"]
    uuid = _upload(alice, _encoded(_halves(60, 30), "PNG"), "x.png")
    assert_error(_thumb(alice, uuid, f"?as_of={before}"), 404)
    after = events(alice)[-1]["uuid"]
    assert _image(_thumb(alice, uuid, f"?as_of={after}")).size == (60, 30)
    assert_error(_thumb(alice, uuid, "?as_of=.bad"), 400)


def test_without_pillow_501_names_the_pip_command(alice: Client, ds: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    made = _upload(alice, _encoded(_halves(60, 30), "PNG"), "made.png")
    assert _thumb(alice, made).status_code == 200
    fresh = _upload(alice, _encoded(_halves(70, 30), "PNG"), "fresh.png")
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` fails from here on
    assert_error(_thumb(alice, fresh), 501, "pip install 'gonk[labels]'")
    assert _thumb(alice, made).status_code == 200  # what is cached needs no Pillow


def test_gc_prunes_the_cache(alice: Client, ds: str, installation: Any) -> None:
    from gonk import garbage

    uuid = _upload(alice, _encoded(_halves(60, 30), "PNG"), "x.png")
    for size in (16, 32, 64):
        _thumb(alice, uuid, f"?size={size}")
    cache = thumbnails.cache_for(installation)
    digest = alice.get(f"{BASE}/{uuid}/0?bytes=false").json["object"]["hash"]
    orphan = cache.path("ab" * 32, 64)  # a thumbnail of bytes nothing references
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"\xff\xd8\xff old")
    result = garbage.collect(installation, min_age_seconds=3600)
    assert not orphan.exists() and result.thumbnails == 1
    assert all(cache.path(digest, s).exists() for s in (16, 32, 64))
    # past the size cap, the least recently used go first
    oldest = cache.path(digest, 16)
    oldest.touch()
    import os
    os.utime(oldest, (1, 1))
    sizes = {s: cache.path(digest, s).stat().st_size for s in (16, 32, 64)}
    pruned = thumbnails.prune(installation, {digest}, time.time() - 3600,
                              max_bytes=sizes[32] + sizes[64])
    assert pruned.files == 1 and not oldest.exists() and cache.path(digest, 64).exists()


def test_me(alice: Client, bob: Client) -> None:
    assert alice.get("/me").json == {"user": "alice", "admin": True}
    assert bob.get("/me").json == {"user": "bob", "admin": False}
    assert_error(alice.get("/me", headers={}), 401)
    assert_error(alice.get("/me", headers={"x-api-key": "wrong"}), 401)
