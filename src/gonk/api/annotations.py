"""Annotations. Under /annotations/, a UUID (any case) is an identifier; anything else is a
status word."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import queries, service
from ..domain import rules, validation
from . import context, parsing

bp = Blueprint("annotations", __name__, url_prefix="/datasets/<dataset>/annotations")


@bp.post("")
def create_annotation(dataset: str):
    name = context.dataset(dataset)
    body = parsing.json_body()
    ref = parsing.schema_ref(body)
    objects = parsing.object_identifiers(body)
    data = parsing.base64_field(body, "annotation")
    return jsonify(service.create_annotation(context.instance(), name, context.user(), ref,
                                             objects, data))


@bp.get("")
def list_annotations(dataset: str):
    name = context.dataset(dataset)
    after, limit = parsing.after_and_limit()
    return jsonify(queries.list_items(context.instance(), name, rules.ANNOTATION, after, limit))


@bp.get("/<segment>")
def annotation_info_or_status(dataset: str, segment: str):
    name = context.dataset(dataset)
    if validation.is_uuid(segment):
        return jsonify(queries.item_info(context.instance(), name, rules.ANNOTATION,
                                         validation.parse_uuid(segment)))
    status = parsing.status_word(segment, parsing.ITEM_STATUSES)
    after, limit = parsing.after_and_limit()
    return jsonify(queries.list_by_status(context.instance(), name, rules.ANNOTATION, status,
                                          after, limit))


@bp.patch("/<segment>")
def update_annotation(dataset: str, segment: str):
    name = context.dataset(dataset)
    if not validation.is_uuid(segment):
        parsing.not_a_status_method()
    body = parsing.json_body()
    ref = parsing.schema_ref(body)
    data = parsing.base64_field(body, "annotation")
    return jsonify(service.update_annotation(context.instance(), name, context.user(),
                                             validation.parse_uuid(segment), ref, data))


@bp.get("/<annotation_uuid>/<version>")
def load_annotation(dataset: str, annotation_uuid: str, version: str):
    name = context.dataset(dataset)
    item = validation.parse_uuid(annotation_uuid, "annotation uuid")
    number = validation.parse_version(version)
    return jsonify(queries.load_version(context.instance(), name, rules.ANNOTATION, item,
                                        number))


@bp.delete("/<annotation_uuid>/<version>")
def delete_annotation(dataset: str, annotation_uuid: str, version: str):
    name = context.dataset(dataset)
    item = validation.parse_uuid(annotation_uuid, "annotation uuid")
    number = validation.parse_version(version)
    return jsonify(service.delete_annotation(context.instance(), name, context.user(), item,
                                             number))
