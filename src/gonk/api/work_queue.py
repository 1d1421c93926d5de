"""The work queue over HTTP (rules in gonk/work_queue.py): claims, leases, objects' priorities
and assignees, and the queue's report."""

from __future__ import annotations

import math

from flask import Blueprint, Response, jsonify, request

from .. import work_queue
from ..domain import validation
from ..domain.errors import Invalid
from . import context, parsing

bp = Blueprint("work_queue", __name__, url_prefix="/datasets/<dataset>")


def _optional_body() -> dict[str, object]:
    """A JSON object, or {} for a request without a body."""
    if not request.content_length and request.mimetype != "application/json":
        return {}
    return parsing.json_body()


@bp.post("/queue/claim")
def claim(dataset: str) -> Response:
    name = context.dataset_name_only(dataset)  # readable? checked by the claim itself
    body = parsing.json_body()
    task = body.get("task")
    if not isinstance(task, str):
        raise Invalid(f"'task' is one of {', '.join(work_queue.TASKS)}.")
    schema = body.get("schema")
    if schema is not None and not isinstance(schema, str):
        raise Invalid("'schema' is a schema's name.")
    return jsonify(work_queue.claim(context.installation(), name, context.user(), task, schema,
                                    work_queue.ttl_of(body.get("ttl", work_queue.MISSING))))


@bp.put("/queue/leases/<lease_id>")
def extend(dataset: str, lease_id: str) -> Response:
    name = context.dataset(dataset)
    ttl = work_queue.ttl_of(_optional_body().get("ttl", work_queue.MISSING))
    return jsonify(work_queue.extend(context.installation(), name, context.user(), lease_id, ttl))


@bp.delete("/queue/leases/<lease_id>")
def give_back(dataset: str, lease_id: str) -> Response:
    name = context.dataset(dataset)
    return jsonify(work_queue.give_back(context.installation(), name, context.user(), lease_id))


@bp.get("/queue")
def report(dataset: str) -> Response:
    name = context.dataset(dataset)
    schema = request.args.get("schema")
    return jsonify(work_queue.report(context.installation(), name, schema))


@bp.put("/objects/<object_uuid>/priority", provide_automatic_options=False)
def set_priority(dataset: str, object_uuid: str) -> Response:
    name = context.dataset(dataset)
    item = validation.parse_uuid(object_uuid, "object uuid")
    priority = parsing.json_body().get("priority")
    if (isinstance(priority, bool) or not isinstance(priority, (int, float))
            or not math.isfinite(priority) or abs(priority) > 1e15):
        raise Invalid("'priority' is a number (higher is claimed first; the default is 0).")
    return jsonify(work_queue.set_priority(context.installation(), name, context.user(), item,
                                           float(priority)))


@bp.put("/objects/<object_uuid>/assignee", provide_automatic_options=False)
def set_assignee(dataset: str, object_uuid: str) -> Response:
    name = context.dataset(dataset)
    item = validation.parse_uuid(object_uuid, "object uuid")
    body = parsing.json_body()
    if "user" not in body:
        raise Invalid("'user' is the user to assign the object to, or null for nobody.")
    user = body["user"]
    if user is not None:
        user = validation.username(user)
    return jsonify(work_queue.set_assignee(context.installation(), name, context.user(), item,
                                           user))


# OPTIONS answered here: Flask's own answer would also list the methods of
# /objects/<uuid>/<version>, which matches these paths too (with "priority" as a version)
def _options() -> Response:
    answer = Response(status=200)
    answer.headers["Allow"] = "OPTIONS, PUT"
    return answer


for _what in ("priority", "assignee"):
    bp.add_url_rule(f"/objects/<object_uuid>/{_what}", f"{_what}_options",
                    lambda dataset, object_uuid: _options(), methods=["OPTIONS"],
                    provide_automatic_options=False)
