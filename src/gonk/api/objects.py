"""Objects. Under /objects/, a UUID (any case) is an identifier; anything else is a status word."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .. import queries, service
from ..domain import rules, validation
from . import context, parsing

bp = Blueprint("objects", __name__, url_prefix="/datasets/<dataset>/objects")


def _fields(body: dict) -> tuple[str, str, bytes]:
    name = validation.object_name(parsing.string_field(body, "name"))
    mimetype = validation.mimetype(parsing.string_field(body, "mimetype"))
    return name, mimetype, parsing.base64_field(body, "object")


@bp.post("")
def create_object(dataset: str):
    name = context.dataset(dataset)
    obj_name, mimetype, data = _fields(parsing.json_body())
    return jsonify(service.create_object(context.instance(), name, context.user(), obj_name,
                                         mimetype, data))


@bp.get("")
def list_objects(dataset: str):
    name = context.dataset(dataset)
    after, limit = parsing.after_and_limit()
    return jsonify(queries.list_items(context.instance(), name, rules.OBJECT, after, limit))


@bp.get("/<segment>")
def object_info_or_status(dataset: str, segment: str):
    name = context.dataset(dataset)
    if validation.is_uuid(segment):
        return jsonify(queries.item_info(context.instance(), name, rules.OBJECT,
                                         validation.parse_uuid(segment)))
    status = parsing.status_word(segment, parsing.ITEM_STATUSES)
    after, limit = parsing.after_and_limit()
    return jsonify(queries.list_by_status(context.instance(), name, rules.OBJECT, status,
                                          after, limit))


@bp.patch("/<segment>")
def update_object(dataset: str, segment: str):
    name = context.dataset(dataset)
    if not validation.is_uuid(segment):
        parsing.not_a_status_method()
    obj_name, mimetype, data = _fields(parsing.json_body())
    return jsonify(service.update_object(context.instance(), name, context.user(),
                                         validation.parse_uuid(segment), obj_name, mimetype,
                                         data))


@bp.get("/<object_uuid>/<version>")
def load_object(dataset: str, object_uuid: str, version: str):
    name = context.dataset(dataset)
    item = validation.parse_uuid(object_uuid, "object uuid")
    number = validation.parse_version(version)
    return jsonify(queries.load_version(context.instance(), name, rules.OBJECT, item, number))


@bp.delete("/<object_uuid>/<version>")
def delete_object(dataset: str, object_uuid: str, version: str):
    name = context.dataset(dataset)
    item = validation.parse_uuid(object_uuid, "object uuid")
    number = validation.parse_version(version)
    return jsonify(service.delete_object(context.instance(), name, context.user(), item, number))
