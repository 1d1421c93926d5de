from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import queries, service
from ..domain import validation
from . import context

bp = Blueprint("owners", __name__, url_prefix="/datasets/<dataset>/owners")


@bp.get("")
def list_owners(dataset: str) -> Response:
    return jsonify(queries.list_owners(context.installation(), context.dataset(dataset)))


@bp.put("/<user>")
def add_owner(dataset: str, user: str) -> Response:
    name = context.dataset(dataset)
    return jsonify(service.add_owner(context.installation(), name, context.user(),
                                     validation.username(user)))


@bp.delete("/<user>")
def remove_owner(dataset: str, user: str) -> Response:
    name = context.dataset(dataset)
    return jsonify(service.remove_owner(context.installation(), name, context.user(),
                                        validation.username(user)))
