from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import queries, service
from . import context, parsing

bp = Blueprint("datasets", __name__)


@bp.post("/datasets")
def create_dataset() -> Response:
    body = parsing.json_body()
    name = parsing.string_field(body, "name")
    return jsonify(service.create_dataset(context.installation(), context.user(), name))


@bp.get("/datasets")
def list_datasets() -> Response:
    return jsonify(queries.list_datasets(context.installation(), context.user()))
