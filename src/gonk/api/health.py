"""GET /health: is this server ready to serve? For load balancers, orchestrators and scripts
that wait for a server to come up. No API key needed; it reveals nothing but whether the
database and the blob store answer."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from ..domain.errors import Unavailable
from . import context

bp = Blueprint("health", __name__)
log = logging.getLogger("gonk.api")

# endpoints that answer without an API key: this one, the API's description (api/docs.py), and
# the web app's shell and static files (gonk/web: the page asks for a key and sends it itself)
UNAUTHENTICATED = {"health.health", "docs.openapi_document", "docs.reference", "web.index",
                   "web.asset", "proofs.log_key"}


@bp.get("/health")
def health() -> Response:
    """200 {"status": "ok", "database": "ok", "blob_store": "ok"} when both answer; otherwise
    503 with "unavailable" for the component that did not (the reason is in the server log),
    "status": "unavailable" and a Retry-After header."""
    problems = context.installation().component_problems()
    down = [component for component, problem in problems.items() if problem is not None]
    body = {"status": "unavailable" if down else "ok"}
    for component, problem in problems.items():
        body[component] = "ok" if problem is None else "unavailable"
        if problem is not None:
            log.warning("health: the %s is unavailable: %s", _words(component), problem)
    if down:
        body["error"] = f"Unavailable: the {' and the '.join(map(_words, down))}."
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    if down:
        response.status_code = 503
        response.headers["Retry-After"] = str(Unavailable.retry_after_seconds)
    return response


def _words(component: str) -> str:
    return component.replace("_", " ")
