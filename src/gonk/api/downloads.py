"""What the load endpoints of objects, schemas and annotations share: the JSON load (with
`?bytes=false`, and without the bytes past the JSON limit) and the raw bytes download.

The download streams the stored bytes with the version's mimetype, its sha256 as a strong
ETag (an If-Match it does not satisfy: 412), single Range requests (206, 416), and a
Content-Disposition naming the file as its object is named (RFC 6266; `filename*` for names
beyond ASCII). A blob kept as a local file goes out through send_file (sendfile where the
server supports it); one in a bucket through `_send_stored_blob`, which answers the same,
header for header.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, jsonify, request, send_file
from werkzeug.datastructures import ContentRange
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import http_date, is_resource_modified, parse_etags

from .. import queries
from ..storage.blobs import BlobStore
from . import context, parsing


def load(dataset: str, kind: str, item_uuid: str | None, version: int, bytes_url: str,
         schema_name: str | None = None) -> Response:
    """GET .../<item>/<version>: metadata, events, links and the base64 bytes. "bytes" is null,
    with "bytes_url" where to download them, when the client asks `?bytes=false` or when the
    version is larger than the JSON limit (MAX_CONTENT_LENGTH)."""
    with_bytes = parsing.flag("bytes", default=True)
    result = queries.load_version(context.installation(), dataset, kind, item_uuid, version,
                                  schema_name=schema_name, with_bytes=with_bytes,
                                  max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
                                  as_of=parsing.point())
    if result["bytes"] is None:
        result["bytes_url"] = parsing.with_as_of(bytes_url)
    return jsonify(result)


# RFC 9110 section 8.3.1: type "/" subtype *( OWS ";" OWS parameter ), in visible ASCII
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
MEDIA_TYPE = re.compile(rf'{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}='
                        rf'(?:{_TOKEN}|"(?:[\t !#-\[\]-~]|\\[\t -~])*"))*')
UNKNOWN_MEDIA_TYPE = "application/octet-stream"


def header_media_type(mimetype: str) -> str:
    """The Content-Type a download is sent with: the stored mimetype when it is a media type
    (RFC 9110), else application/octet-stream. A JSON create keeps whatever mimetype it is given
    (the seed's form), such as "0" or text beyond Latin-1, which is no header value: sent as
    is, it was a malformed header, or a 500 (found by the fuzz test, tests/fuzz/)."""
    trimmed = mimetype.strip(" \t")
    return trimmed if MEDIA_TYPE.fullmatch(trimmed) else UNKNOWN_MEDIA_TYPE


def send_version_bytes(meta: dict[str, Any], mimetype: str, filename: str) -> Response:
    """The bytes of a version (metadata as queries.version_metadata returns it), as a file
    named `filename`: shown inline, or saved (`attachment`) with ?download=true. `mimetype`
    becomes the Content-Type if it is a media type (header_media_type)."""
    mimetype = header_media_type(mimetype)
    disposition = "attachment" if parsing.flag("download", default=False) else "inline"
    blobs = context.installation().blobs
    digest = meta["hash"]
    refused = _if_match_fails(digest)
    if refused is not None:
        return refused
    # If-Match holds, settled: werkzeug must not weigh it again (it takes `*` for a mismatch,
    # and lets a matching If-Match override If-None-Match, which RFC 9110 checks next).
    request.environ.pop("HTTP_IF_MATCH", None)
    try:
        path = blobs.local_path(digest)
        if path is not None:
            try:
                response = send_file(path, mimetype=mimetype, conditional=True, etag=digest,
                                     max_age=None, download_name=filename,
                                     as_attachment=disposition == "attachment")
            except FileNotFoundError:
                blobs.stat(digest)  # a blob directory gone: 503 (BlobStoreUnavailable), as on S3
                raise
        else:
            response = _send_stored_blob(blobs, digest, mimetype)
    except RequestedRangeNotSatisfiable as exc:
        return _range_not_satisfiable(exc)
    response.headers.set("Content-Disposition", disposition, **_filename_params(filename))
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response


def _if_match_fails(digest: str) -> Response | None:
    """412 with a JSON error when the request has an If-Match that the version's ETag (its
    sha256, a strong validator) does not satisfy, else None. Checked first, as RFC 9110
    section 13.2.2 orders preconditions: werkzeug's own check (in send_file) set 412 on a
    response that still carried the whole file, and skipped it altogether for a Range request
    (206 with the bytes). An If-Match naming no valid entity tag fails too."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = parse_etags(header)
    if tags.star_tag or tags.is_strong(digest):
        return None
    response = jsonify({"error": f"Precondition failed: If-Match does not name this version's "
                                 f"ETag (\"{digest}\"); nothing was sent."})
    response.status_code = 412
    response.set_etag(digest)
    return response


def filename_of(name: str, fallback: str) -> str:
    """The file name a download of an object named `name` gets: its last path component (an
    object name may be a path such as "2024/birds/owl.jpg", or a Windows path such as an old
    browser's "C:\\Users\\me\\owl.jpg"); `fallback` if that is empty."""
    return name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or fallback


def _filename_params(filename: str) -> dict[str, str]:
    """Content-Disposition's filename parameters, as send_file writes them (RFC 6266): the
    name itself when it is ASCII, else an ASCII approximation plus `filename*` in UTF-8."""
    try:
        filename.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
        return {"filename": simple or "download",
                "filename*": "UTF-8''" + quote(filename, safe="!#$&+-.^_`|~")}
    return {"filename": filename}


def _send_stored_blob(blobs: BlobStore, digest: str, mimetype: str) -> Response:
    """What send_file(conditional=True, etag=digest) answers for a file, for a blob read
    through the store: the same headers (Last-Modified from the blob's time, ETag,
    Accept-Ranges, Date; the caller sets Content-Disposition), 304 for a matching
    If-None-Match (or If-Modified-Since), a single Range as 206 (honouring If-Range),
    RequestedRangeNotSatisfiable for any other range. Only the bytes sent are read, in chunks,
    from the store."""
    stat = blobs.stat(digest)
    response = current_app.response_class(None, mimetype=mimetype, direct_passthrough=True)
    response.last_modified = datetime.fromtimestamp(stat.modified, UTC)
    response.set_etag(digest)
    response.accept_ranges = "bytes"
    response.headers["Date"] = http_date()
    span = _single_range(response, stat.size)
    if span is not None:
        response.status_code = 206
        response.content_range = ContentRange("bytes", span[0], span[1], stat.size)
    elif not _modified_since_client_copy(response):
        response.status_code = 304  # (a failing If-Match never gets here: _if_match_fails)
    start, stop = span or (0, stat.size)
    response.content_length = stop - start
    if request.method == "GET" and response.status_code != 304 and stop > start:
        response.response = blobs.read_range(digest, start, stop - 1)
    return response


def _modified_since_client_copy(response: Response, ignore_if_range: bool = True) -> bool:
    """werkzeug's test of If-None-Match / If-Modified-Since (or, with ignore_if_range=False,
    If-Range), against the response's ETag and Last-Modified, as send_file applies it."""
    return is_resource_modified(request.environ, response.headers.get("ETag"),
                                last_modified=response.headers.get("Last-Modified"),
                                ignore_if_range=ignore_if_range)


def _single_range(response: Response, size: int) -> tuple[int, int] | None:
    """(start, stop) of the one range to send, or None for the whole body: no Range header, an
    empty blob, or an If-Range that no longer matches. Raises RequestedRangeNotSatisfiable for
    a malformed, multiple or out-of-bounds range, as send_file does."""
    if not size or "Range" not in request.headers:
        return None
    if "If-Range" in request.headers and _modified_since_client_copy(response, False):
        return None
    requested = request.range
    span = requested.range_for_length(size) if requested is not None else None
    if span is None:
        raise RequestedRangeNotSatisfiable(length=size)
    return span


def _range_not_satisfiable(exc: RequestedRangeNotSatisfiable) -> Response:
    """416 as a JSON error like every other, with the Content-Range: bytes */<size> that tells
    the client the size (the generic error handler would drop it)."""
    response = jsonify({"error": exc.description})
    response.status_code = 416
    if exc.length is not None:
        response.headers["Content-Range"] = f"{exc.units} */{exc.length}"
    return response
