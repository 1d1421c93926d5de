"""Objects. Under /objects/, a UUID (any case) is an identifier; anything else is a status word."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from werkzeug.datastructures import ContentRange
from werkzeug.exceptions import HTTPException, RequestedRangeNotSatisfiable
from werkzeug.http import http_date, is_resource_modified, parse_etags

from .. import queries, service
from ..domain import rules, validation
from ..domain.errors import Invalid, UnsupportedMediaType
from ..storage.blobs import CHUNK, BlobStore, StoredBlob
from . import context, items, parsing

bp = Blueprint("objects", __name__, url_prefix="/datasets/<dataset>/objects")


def _streamed() -> bool:
    """A body that is not JSON is the object's raw bytes (beyond the seed, for large files);
    so is any body sent with ?name=, which is how a JSON file is uploaded as raw bytes."""
    return request.mimetype != "application/json" or "name" in request.args


def _content(dataset: str) -> tuple[str, str, bytes | StoredBlob]:
    """Name, mimetype and bytes of an object create or update, from either form of request:
    JSON {"name", "mimetype", "object": base64}, or the raw bytes streamed as the body with
    `?name=` and the Content-Type as the mimetype."""
    if not _streamed():
        body = parsing.json_body()
        name = validation.object_name(parsing.string_field(body, "name"))
        mimetype = validation.mimetype(parsing.string_field(body, "mimetype"))
        return name, mimetype, parsing.base64_field(body, "object")
    if not request.content_type:
        raise UnsupportedMediaType(
            "Send JSON with Content-Type: application/json, or the raw bytes with the object's "
            "own Content-Type and ?name=.")
    if "name" not in request.args:
        raise Invalid("A raw upload needs the object's name as the query parameter ?name=.")
    name = validation.object_name(request.args["name"])
    mimetype = validation.mimetype(request.content_type)
    limit = current_app.config["GONK_MAX_STREAM_BYTES"]
    request.max_content_length = limit
    return name, mimetype, service.store_stream(context.installation(), dataset, _body_chunks(),
                                                limit)


def _body_chunks() -> Iterator[bytes]:
    """The raw body, chunk by chunk. A body cut short (the client went away before sending the
    Content-Length it announced, or before a chunked body's last chunk) or with broken framing
    raises Invalid, so that store_stream stores nothing: gunicorn hands a truncated body over
    as if it had simply ended."""
    expected, received = request.content_length, 0
    while True:
        try:
            chunk = request.stream.read(CHUNK)
        except HTTPException:  # 413 past the limit
            raise
        except Exception as exc:  # the connection broke, or the chunked framing is malformed
            raise Invalid(f"The upload was cut off or malformed after {received} bytes; "
                          "nothing was stored.") from exc
        if not chunk:
            break
        received += len(chunk)
        yield chunk
    if expected is not None and received != expected:
        raise Invalid(f"The upload ended after {received} of the {expected} bytes its "
                      "Content-Length announced; nothing was stored.")


@bp.post("")
def create_object(dataset: str) -> Response:
    name = context.dataset(dataset)
    obj_name, mimetype, data = _content(name)
    return jsonify(service.create_object(context.installation(), name, context.user(), obj_name,
                                         mimetype, data))


@bp.get("")
def list_objects(dataset: str) -> Response:
    """All objects, or with ?hash=<sha256> those holding these bytes in a live version."""
    name = context.dataset(dataset)
    if "hash" in request.args:
        digest = request.args["hash"]
        if not validation.is_sha256(digest):
            raise Invalid("'hash' must be a sha256 digest: 64 lowercase hex characters.")
        return jsonify(queries.objects_with_hash(context.installation(), name, digest))
    after, limit = parsing.after_and_limit()
    return jsonify(queries.list_items(context.installation(), name, rules.OBJECT, after, limit))


@bp.get("/<segment>")
def object_info_or_status(dataset: str, segment: str) -> Response:
    return jsonify(items.info_or_status(context.dataset(dataset), rules.OBJECT, segment))


@bp.patch("/<segment>")
def update_object(dataset: str, segment: str) -> Response:
    name = context.dataset(dataset)
    item_uuid = items.uuid_for_update(segment)
    obj_name, mimetype, data = _content(name)
    return jsonify(service.update_object(context.installation(), name, context.user(),
                                         item_uuid, obj_name, mimetype,
                                         data))


@bp.get("/<object_uuid>/<version>")
def load_object(dataset: str, object_uuid: str, version: str) -> Response:
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    return jsonify(queries.load_version(context.installation(), name, rules.OBJECT, item, number,
                                        max_bytes=current_app.config["MAX_CONTENT_LENGTH"]))


@bp.get("/<object_uuid>/<version>/bytes")
def object_bytes(dataset: str, object_uuid: str, version: str) -> Response:
    """The stored bytes, streamed, with the object's mimetype, its sha256 as a strong ETag,
    and single Range requests (206, 416). A blob kept as a local file goes out through
    send_file (sendfile where the server supports it); one in a bucket through
    `_send_stored_blob`, which answers the same, header for header."""
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    meta = queries.version_metadata(context.installation(), name, rules.OBJECT, item, number)
    blobs = context.installation().blobs
    try:
        path = blobs.local_path(meta["hash"])
        if path is not None:
            response = send_file(path, mimetype=meta["format"], conditional=True,
                                 etag=meta["hash"], max_age=None)
        else:
            response = _send_stored_blob(blobs, meta["hash"], meta["format"])
    except RequestedRangeNotSatisfiable as exc:
        return _range_not_satisfiable(exc)
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response


def _send_stored_blob(blobs: BlobStore, digest: str, mimetype: str) -> Response:
    """What send_file(conditional=True, etag=digest) answers for a file, for a blob read
    through the store: the same headers (Content-Disposition naming the digest, Last-Modified
    from the blob's time, ETag, Accept-Ranges, Date), 304 for a matching If-None-Match (or
    If-Modified-Since), a single Range as 206 (honouring If-Range), RequestedRangeNotSatisfiable
    for any other range. Only the bytes sent are read, in chunks, from the store."""
    stat = blobs.stat(digest)
    response = current_app.response_class(None, mimetype=mimetype, direct_passthrough=True)
    response.headers.set("Content-Disposition", "inline", filename=digest)
    response.last_modified = datetime.fromtimestamp(stat.modified, UTC)
    response.set_etag(digest)
    response.accept_ranges = "bytes"
    response.headers["Date"] = http_date()
    span = _single_range(response, stat.size)
    if span is not None:
        response.status_code = 206
        response.content_range = ContentRange("bytes", span[0], span[1], stat.size)
    elif not _modified_since_client_copy(response):
        response.status_code = 412 if parse_etags(request.headers.get("If-Match")) else 304
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


@bp.delete("/<object_uuid>/<version>")
def delete_object(dataset: str, object_uuid: str, version: str) -> Response:
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    return jsonify(service.delete_object(context.installation(), name, context.user(), item,
                                         number))
