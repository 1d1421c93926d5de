"""Schemas. Under /schemas/, a segment starting with `schema-` is a schema name; any other
segment is a status word (SPEC section 3)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import queries, service
from ..domain import rules, validation
from . import context, downloads, parsing

bp = Blueprint("schemas", __name__, url_prefix="/datasets/<dataset>/schemas")


def _is_name(segment: str) -> bool:
    return segment.startswith(validation.SCHEMA_PREFIX)


@bp.post("")
def create_schema(dataset: str) -> Response:
    name = context.dataset(dataset)
    body = parsing.json_body()
    schema_name = validation.schema_name(parsing.string_field(body, "name"))
    data = parsing.base64_field(body, "schema")
    return jsonify(service.create_schema(context.installation(), name, context.user(), schema_name,
                                         data))


@bp.get("")
def list_schemas(dataset: str) -> Response:
    name = context.dataset(dataset)
    exact, prefix = parsing.name_filters(validation.schema_name)
    return jsonify(queries.list_items(context.installation(), name, rules.SCHEMA, None, None,
                                      name=exact, prefix=prefix, as_of=parsing.point()))


@bp.get("/<segment>")
def schema_info_or_status(dataset: str, segment: str) -> Response:
    name = context.dataset(dataset)
    if _is_name(segment):
        return jsonify(queries.schema_info(context.installation(), name, segment,
                                           as_of=parsing.point()))
    status = parsing.status_word(segment, parsing.SCHEMA_STATUSES)
    return jsonify(queries.list_by_status(context.installation(), name, rules.SCHEMA, status,
                                          None, None, as_of=parsing.point()))


@bp.patch("/<segment>")
def update_schema(dataset: str, segment: str) -> Response:
    name = context.dataset(dataset)
    if not _is_name(segment):
        parsing.not_a_status_method()
    data = parsing.base64_field(parsing.json_body(), "schema")
    return jsonify(service.update_schema(context.installation(), name, context.user(), segment,
                                         data))


@bp.get("/<schema_name>/<version>")
def load_schema(dataset: str, schema_name: str, version: str) -> Response:
    """The version's metadata, events and base64 bytes; see downloads.load for ?bytes=false."""
    name = context.dataset(dataset)
    validation.schema_name(schema_name)
    number = validation.parse_version(version)
    return downloads.load(name, rules.SCHEMA, None, number,
                          f"/datasets/{name}/schemas/{schema_name}/{number}/bytes",
                          schema_name=schema_name)


@bp.get("/<schema_name>/<version>/bytes")
def schema_bytes(dataset: str, schema_name: str, version: str) -> Response:
    """The schema document itself (application/schema+json), as a file <name>.json."""
    name = context.dataset(dataset)
    validation.schema_name(schema_name)
    number = validation.parse_version(version)
    meta = queries.version_metadata(context.installation(), name, rules.SCHEMA, None, number,
                                    schema_name=schema_name, as_of=parsing.point())
    return downloads.send_version_bytes(meta, meta["format"], f"{schema_name}.json")


@bp.delete("/<schema_name>/<version>")
def deprecate_schema(dataset: str, schema_name: str, version: str) -> Response:
    name = context.dataset(dataset)
    validation.schema_name(schema_name)
    number = validation.parse_version(version)
    return jsonify(service.deprecate_schema(context.installation(), name, context.user(),
                                            schema_name, number))
