"""`GET /datasets/<d>/objects/<uuid>/<version>/thumbnail?size=N`: a small JPEG (or PNG, for an
image with transparency) of an image object, for the web app's grids. The imaging and the cache
are gonk/thumbnails.py; here, the request's shape and the HTTP caching.

`size` is the longest side in pixels, MIN_SIZE to MAX_SIZE (default 256; anything else 400).
Takes `?as_of=` as the other reads of a version do. The answer has a strong ETag (the source's
sha256, the size and the thumbnail format's version: If-None-Match naming it gives 304) and may
be kept by the browser for a year: a version's bytes never change.
"""

from __future__ import annotations

from flask import Blueprint, Response, request
from werkzeug.http import parse_etags

from .. import queries, thumbnails
from ..domain import rules
from ..domain.errors import Invalid
from . import context, parsing

bp = Blueprint("thumbnails", __name__, url_prefix="/datasets/<dataset>/objects")

CACHE_CONTROL = "private, max-age=31536000, immutable"


def _size() -> int:
    raw = request.args.get("size")
    if raw is None:
        return thumbnails.DEFAULT_SIZE
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5
            and thumbnails.MIN_SIZE <= int(raw) <= thumbnails.MAX_SIZE):
        raise Invalid(f"'size' must be a whole number from {thumbnails.MIN_SIZE} to "
                      f"{thumbnails.MAX_SIZE}: the thumbnail's longest side in pixels "
                      f"(default {thumbnails.DEFAULT_SIZE}).")
    return int(raw)


@bp.get("/<object_uuid>/<version>/thumbnail")
def object_thumbnail(dataset: str, object_uuid: str, version: str) -> Response:
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    size = _size()
    installation = context.installation()
    meta = queries.version_metadata(installation, name, rules.OBJECT, item, number,
                                    as_of=parsing.point())
    made = thumbnails.thumbnail(installation, meta["hash"], meta["size"], size)
    tag = thumbnails.etag(meta["hash"], size)
    if parse_etags(request.headers.get("If-None-Match")).contains_weak(tag):
        response = Response(status=304)
    else:
        response = Response(made.data, mimetype=made.mimetype)
    response.set_etag(tag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
