"""A dataset's settings (`GET`/`PATCH /datasets/<d>`) and members with their roles
(`/datasets/<d>/members`). Who may change them (owners) is a rule of the log (domain/rules.py):
each change is an event of the dataset's chain."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import queries, service
from ..domain import events as ev
from ..domain import validation
from ..domain.errors import Invalid
from . import context, parsing

bp = Blueprint("members", __name__, url_prefix="/datasets/<dataset>")


@bp.get("")
def dataset_info(dataset: str) -> Response:
    """{"dataset", "visibility", "require_other_reviewer", "access"}: `access` is what the
    caller may do: "owner", "reviewer", "annotator" or "viewer"."""
    name = context.dataset(dataset)
    return jsonify(queries.dataset_info(context.installation(), name, context.user()))


@bp.patch("")
def change_settings(dataset: str) -> Response:
    name = context.dataset(dataset)
    body = parsing.json_body()
    unknown = set(body) - {"visibility", "require_other_reviewer"}
    if unknown:
        raise Invalid(f"Unknown setting {sorted(unknown)[0]!r}: a dataset has 'visibility' and "
                      "'require_other_reviewer'.")
    if not body:
        raise Invalid("Nothing to change: give 'visibility' or 'require_other_reviewer'.")
    visibility = body.get("visibility")
    if visibility is not None and visibility not in ev.VISIBILITIES:
        raise Invalid(f"'visibility' is one of {', '.join(ev.VISIBILITIES)}.")
    other = body.get("require_other_reviewer")
    if other is not None and not isinstance(other, bool):
        raise Invalid("'require_other_reviewer' must be true or false.")
    return jsonify(service.change_settings(context.installation(), name, context.user(),
                                           visibility, other))


@bp.get("/members")
def list_members(dataset: str) -> Response:
    name = context.dataset(dataset)
    return jsonify(queries.list_members(context.installation(), name))


@bp.put("/members/<user>")
def set_member(dataset: str, user: str) -> Response:
    name = context.dataset(dataset)
    validation.username(user)
    body = parsing.json_body()
    role = body.get("role")
    if role not in ev.ROLES:
        raise Invalid(f"'role' is one of {', '.join(ev.ROLES)}.")
    return jsonify(service.set_member(context.installation(), name, context.user(), user, role))


@bp.delete("/members/<user>")
def remove_member(dataset: str, user: str) -> Response:
    name = context.dataset(dataset)
    validation.username(user)
    return jsonify(service.remove_member(context.installation(), name, context.user(), user))
