"""Objects. Under /objects/, a UUID (any case) is an identifier; anything else is a status word."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, current_app, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from .. import queries, service
from ..domain import rules, validation
from ..domain.errors import Invalid, UnsupportedMediaType
from ..storage.blobs import CHUNK, StoredBlob
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
    return name, mimetype, service.store_stream(context.instance(), dataset, _body_chunks(),
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
def create_object(dataset: str):
    name = context.dataset(dataset)
    obj_name, mimetype, data = _content(name)
    return jsonify(service.create_object(context.instance(), name, context.user(), obj_name,
                                         mimetype, data))


@bp.get("")
def list_objects(dataset: str):
    """All objects, or with ?hash=<sha256> those holding these bytes in a live version."""
    name = context.dataset(dataset)
    if "hash" in request.args:
        digest = request.args["hash"]
        if not validation.is_sha256(digest):
            raise Invalid("'hash' must be a sha256 digest: 64 lowercase hex characters.")
        return jsonify(queries.objects_with_hash(context.instance(), name, digest))
    after, limit = parsing.after_and_limit()
    return jsonify(queries.list_items(context.instance(), name, rules.OBJECT, after, limit))


@bp.get("/<segment>")
def object_info_or_status(dataset: str, segment: str):
    return jsonify(items.info_or_status(context.dataset(dataset), rules.OBJECT, segment))


@bp.patch("/<segment>")
def update_object(dataset: str, segment: str):
    name = context.dataset(dataset)
    item_uuid = items.uuid_for_update(segment)
    obj_name, mimetype, data = _content(name)
    return jsonify(service.update_object(context.instance(), name, context.user(),
                                         item_uuid, obj_name, mimetype,
                                         data))


@bp.get("/<object_uuid>/<version>")
def load_object(dataset: str, object_uuid: str, version: str):
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    return jsonify(queries.load_version(context.instance(), name, rules.OBJECT, item, number,
                                        max_bytes=current_app.config["MAX_CONTENT_LENGTH"]))


@bp.get("/<object_uuid>/<version>/bytes")
def object_bytes(dataset: str, object_uuid: str, version: str) -> Any:
    """The stored bytes, streamed, with the object's mimetype, its sha256 as a strong ETag,
    and single Range requests (206, 416)."""
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    meta = queries.version_metadata(context.instance(), name, rules.OBJECT, item, number)
    response = send_file(context.instance().blobs.path(meta["hash"]), mimetype=meta["format"],
                         conditional=True, etag=meta["hash"], max_age=None)
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response


@bp.delete("/<object_uuid>/<version>")
def delete_object(dataset: str, object_uuid: str, version: str):
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    return jsonify(service.delete_object(context.instance(), name, context.user(), item, number))
