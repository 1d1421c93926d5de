from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import queries, service
from ..domain import validation
from . import context, parsing

bp = Blueprint("events", __name__, url_prefix="/datasets/<dataset>/events")


@bp.get("")
def list_events(dataset: str) -> Response:
    name = context.dataset(dataset)
    after, limit = parsing.after_and_limit()
    bodies = queries.event_page(context.installation(), name, after, limit,
                                pending=parsing.flag("pending", False), as_of=parsing.point())
    # The stored JSON is sent as stored: exactly the hashed object plus its integrity.
    return Response("[" + ",".join(bodies) + "]", mimetype="application/json")


def _review(dataset: str, event_uuid: str, accept: bool) -> Response:
    name = context.dataset(dataset)
    target = validation.parse_uuid(event_uuid, "event uuid")
    return jsonify(service.review(context.installation(), name, context.user(), target, accept))


@bp.put("/<event_uuid>/accept")
def accept(dataset: str, event_uuid: str) -> Response:
    return _review(dataset, event_uuid, True)


@bp.put("/<event_uuid>/reject")
def reject(dataset: str, event_uuid: str) -> Response:
    return _review(dataset, event_uuid, False)
