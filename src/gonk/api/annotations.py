"""Annotations. Under /annotations/, a UUID (any case) is an identifier; anything else is a
status word."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import queries, service
from ..domain import rules
from . import context, downloads, items, parsing

bp = Blueprint("annotations", __name__, url_prefix="/datasets/<dataset>/annotations")


@bp.post("")
def create_annotation(dataset: str) -> Response:
    name = context.dataset(dataset)
    body = parsing.json_body()
    ref = parsing.schema_ref(body)
    objects = parsing.object_identifiers(body)
    data = parsing.base64_field(body, "annotation")
    return jsonify(service.create_annotation(context.installation(), name, context.user(), ref,
                                             objects, data))


@bp.get("")
def list_annotations(dataset: str) -> Response:
    name = context.dataset(dataset)
    after, limit = parsing.after_and_limit()
    schema_name = parsing.schema_filter()
    return jsonify(queries.list_items(context.installation(), name, rules.ANNOTATION, after, limit,
                                      schema_name=schema_name, as_of=parsing.point()))


@bp.get("/<segment>")
def annotation_info_or_status(dataset: str, segment: str) -> Response:
    return jsonify(items.info_or_status(context.dataset(dataset), rules.ANNOTATION, segment))


@bp.patch("/<segment>")
def update_annotation(dataset: str, segment: str) -> Response:
    name = context.dataset(dataset)
    item_uuid = items.uuid_for_update(segment)
    body = parsing.json_body()
    ref = parsing.schema_ref(body)
    data = parsing.base64_field(body, "annotation")
    return jsonify(service.update_annotation(context.installation(), name, context.user(),
                                             item_uuid, ref, data))


@bp.get("/<annotation_uuid>/<version>")
def load_annotation(dataset: str, annotation_uuid: str, version: str) -> Response:
    """The version's metadata, events, objects and base64 bytes; see downloads.load for
    ?bytes=false."""
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(annotation_uuid, version, "annotation")
    return downloads.load(name, rules.ANNOTATION, item, number,
                          f"/datasets/{name}/annotations/{item}/{number}/bytes")


@bp.get("/<annotation_uuid>/<version>/bytes")
def annotation_bytes(dataset: str, annotation_uuid: str, version: str) -> Response:
    """The annotation's JSON document (application/json), as a file <uuid>.json."""
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(annotation_uuid, version, "annotation")
    meta = queries.version_metadata(context.installation(), name, rules.ANNOTATION, item, number,
                                    as_of=parsing.point())
    return downloads.send_version_bytes(meta, "application/json", f"{item}.json")


@bp.delete("/<annotation_uuid>/<version>")
def delete_annotation(dataset: str, annotation_uuid: str, version: str) -> Response:
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(annotation_uuid, version, "annotation")
    return jsonify(service.delete_annotation(context.installation(), name, context.user(), item,
                                             number))
