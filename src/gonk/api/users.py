"""`GET /me`: who the caller's key belongs to (the web app shows what a user may do)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from . import context

bp = Blueprint("users", __name__)


@bp.get("/me")
def me() -> Response:
    """{"user": name} of the caller's key."""
    return jsonify({"user": context.user()})
