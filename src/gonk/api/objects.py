"""Objects. Under /objects/, a UUID (any case) is an identifier; anything else is a status word."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import queries, service
from ..domain import rules, validation
from ..domain.errors import GonkError, Invalid, UnsupportedMediaType
from ..storage.blobs import StoredBlob
from . import context, downloads, items, parsing, uploads

bp = Blueprint("objects", __name__, url_prefix="/datasets/<dataset>/objects")


def _streamed() -> bool:
    """A body that is not JSON is the object's raw bytes (beyond the seed, for large files);
    so is any body sent with ?name=, which is how a JSON file is uploaded as raw bytes."""
    return request.mimetype != "application/json" or "name" in request.args


def _content(dataset: str) -> tuple[str, str, bytes | StoredBlob]:
    """Name, mimetype and bytes of an object create or update, from either form of request:
    JSON {"name", "mimetype", "object": base64}, or the raw bytes streamed as the body with
    `?name=` and the Content-Type as the mimetype (guessed from the bytes and the name when the
    Content-Type says nothing about them: none, application/octet-stream, or the
    application/x-www-form-urlencoded that `curl --data-binary` sends)."""
    if not _streamed():
        body = parsing.json_body()
        name = validation.object_name(parsing.string_field(body, "name"))
        mimetype = validation.mimetype(parsing.string_field(body, "mimetype"))
        return name, mimetype, parsing.base64_field(body, "object")
    if not request.content_type and "name" not in request.args:
        raise UnsupportedMediaType(
            "Send JSON with Content-Type: application/json, the raw bytes with ?name= (and the "
            "object's own Content-Type), or files as multipart/form-data.")
    if "name" not in request.args:
        raise Invalid("A raw upload needs the object's name as the query parameter ?name=.")
    name = validation.object_name(request.args["name"])
    limit = uploads.stream_limit()
    mimetype, blob = uploads.stored_with_type(dataset, name, request.content_type,
                                              uploads.body_chunks(), limit)
    return name, mimetype, blob


def _query_name() -> str | None:
    """A multipart upload's ?name=, which names its single file in place of the filename."""
    name = request.args.get("name")
    return validation.object_name(name) if name is not None else None


def _create_parts(dataset: str) -> list[dict[str, Any]]:
    """One object per file part of a multipart/form-data body, each its own (pending) create
    event. Every part is read and stored, and every name and content checked, before the first
    event: a refused part creates nothing. Should a create still be refused after earlier ones
    succeeded (only a concurrent writer can cause that), the error lists those in "objects"."""
    parts = uploads.file_parts(dataset, _query_name(), uploads.MAX_FILE_PARTS)
    uploads.check_unique(dataset, parts)
    created: list[dict[str, Any]] = []
    for part in parts:
        try:
            result = service.create_object(context.installation(), dataset, context.user(),
                                           part.name, part.mimetype, part.blob)
        except GonkError as exc:
            if created:
                exc.message += (f" (The file {part.name!r} was not created; the "
                                f"{len(created)} before it were: see 'objects'.)")
                exc.extra["objects"] = created
            raise
        created.append({**result, "name": part.name})
    return created


@bp.post("")
def create_object(dataset: str) -> Response:
    name = context.dataset(dataset)
    if uploads.is_multipart():
        return jsonify({"objects": _create_parts(name)})
    obj_name, mimetype, data = _content(name)
    return jsonify(service.create_object(context.installation(), name, context.user(), obj_name,
                                         mimetype, data))


@bp.get("")
def list_objects(dataset: str) -> Response:
    """All objects (their newest version's name filtered by ?name= or ?prefix=), or with
    ?hash=<sha256> those holding these bytes in a live version."""
    name = context.dataset(dataset)
    if "hash" in request.args:
        if "name" in request.args or "prefix" in request.args:
            raise Invalid("?hash= cannot be combined with ?name= or ?prefix=.")
        digest = request.args["hash"]
        if not validation.is_sha256(digest):
            raise Invalid("'hash' must be a sha256 digest: 64 lowercase hex characters.")
        return jsonify(queries.objects_with_hash(context.installation(), name, digest))
    after, limit = parsing.after_and_limit()
    exact, prefix = parsing.name_filters(validation.object_name)
    return jsonify(queries.list_items(context.installation(), name, rules.OBJECT, after, limit,
                                      name=exact, prefix=prefix))


@bp.get("/<segment>")
def object_info_or_status(dataset: str, segment: str) -> Response:
    return jsonify(items.info_or_status(context.dataset(dataset), rules.OBJECT, segment))


@bp.patch("/<segment>")
def update_object(dataset: str, segment: str) -> Response:
    name = context.dataset(dataset)
    item_uuid = items.uuid_for_update(segment)
    data: bytes | StoredBlob
    if uploads.is_multipart():  # exactly one file part
        [part] = uploads.file_parts(name, _query_name(), 1)
        obj_name, mimetype, data = part.name, part.mimetype, part.blob
    else:
        obj_name, mimetype, data = _content(name)
    return jsonify(service.update_object(context.installation(), name, context.user(),
                                         item_uuid, obj_name, mimetype, data))


@bp.get("/<object_uuid>/<version>")
def load_object(dataset: str, object_uuid: str, version: str) -> Response:
    """The version's metadata, events, annotations and base64 bytes; see downloads.load for
    ?bytes=false and versions past the JSON limit."""
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    return downloads.load(name, rules.OBJECT, item, number,
                          f"/datasets/{name}/objects/{item}/{number}/bytes")


@bp.get("/<object_uuid>/<version>/bytes")
def object_bytes(dataset: str, object_uuid: str, version: str) -> Response:
    """The stored bytes, streamed, with the object's mimetype, named as the object is (the last
    component of its name) in Content-Disposition: see downloads.send_version_bytes."""
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    meta = queries.version_metadata(context.installation(), name, rules.OBJECT, item, number)
    return downloads.send_version_bytes(meta, meta["format"],
                                        downloads.filename_of(meta["name"], meta["hash"]))


@bp.delete("/<object_uuid>/<version>")
def delete_object(dataset: str, object_uuid: str, version: str) -> Response:
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    return jsonify(service.delete_object(context.installation(), name, context.user(), item,
                                         number))
