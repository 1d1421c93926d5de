"""Users over the API. `GET /me` for everyone (the web app shows what a user may do); the
instance admin's `GET /users`, `POST /users`, `DELETE /users/<name>`; `POST /users/<name>/key`
for an admin, or for a user's own key. The rules are in gonk/users.py."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import users
from ..domain import validation
from ..domain.errors import Invalid
from . import context, parsing

bp = Blueprint("users", __name__)


@bp.get("/me")
def me() -> Response:
    """{"user": name, "admin": bool} of the caller's key."""
    return jsonify(users.me(context.installation(), context.user()))


@bp.get("/users")
def list_users() -> Response:
    return jsonify(users.all_users(context.installation(), context.user()))


@bp.post("/users")
def create_user() -> Response:
    body = parsing.json_body()
    name = validation.username(parsing.string_field(body, "name"))
    admin = body.get("admin", False)
    if not isinstance(admin, bool):
        raise Invalid("'admin' must be true or false.")
    return jsonify(users.create_user(context.installation(), context.user(), name, admin))


@bp.post("/users/<name>/key")
def new_key(name: str) -> Response:
    return jsonify(users.new_key_for(context.installation(), context.user(),
                                     validation.username(name)))


@bp.delete("/users/<name>")
def delete_user(name: str) -> Response:
    return jsonify(users.delete_user(context.installation(), context.user(),
                                     validation.username(name)))
