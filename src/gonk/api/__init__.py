"""The HTTP layer: an application factory, one blueprint per resource, errors mapped in one place.

Routes only parse the request's shape, call one service or query function, and return JSON.
"""

import os
from pathlib import Path
from typing import Any, cast

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider

from ..domain.errors import Unauthorized
from ..installation import Installation
from ..users import user_for_key
from ..web import bp as web_bp

# (no `from __future__ import annotations` here: it would shadow the annotations module)
from . import (
    annotations,
    datasets,
    docs,
    errors,
    events,
    health,
    label_exports,
    members,
    objects,
    owners,
    parsing,
    proofs,
    releases,
    schemas,
    stats,
    thumbnails,
    users,
    work_queue,
)
from .bodies import GonkRequest

DEFAULT_MAX_JSON_BYTES = 64 * 1024**2
DEFAULT_MAX_STREAM_BYTES = 10 * 1024**3
MAX_JSON_ENV = "GONK_MAX_JSON_BYTES"
MAX_STREAM_ENV = "GONK_MAX_STREAM_BYTES"


def _api_key() -> str | None:
    """The caller's key: the x-api-key header, or the usual `Authorization: Bearer <key>`
    (the scheme's name in any case, as RFC 9110 has it). With both, x-api-key wins."""
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def create_app(data_dir: str | Path | None = None, installation: Installation | None = None,
               config: dict[str, Any] | None = None, database_url: str | None = None,
               blob_url: str | None = None) -> Flask:
    """Build the app on an initialised data directory (or an already opened Installation).

    Limits: MAX_CONTENT_LENGTH (JSON bodies; env GONK_MAX_JSON_BYTES, default 64 MiB) and
    GONK_MAX_STREAM_BYTES (raw uploads; env of the same name, default 10 GiB).
    """
    # no static folder: every route is the API's own (and in its OpenAPI document, openapi.py)
    app = Flask("gonk", static_folder=None)
    app.request_class = GonkRequest  # bodies read exactly as framed (api/bodies.py)
    app.config["MAX_CONTENT_LENGTH"] = int(os.environ.get(MAX_JSON_ENV, DEFAULT_MAX_JSON_BYTES))
    app.config["GONK_MAX_STREAM_BYTES"] = int(
        os.environ.get(MAX_STREAM_ENV, DEFAULT_MAX_STREAM_BYTES))
    # app.json is Flask's DefaultJSONProvider (typed as the JSONProvider base): keep key order
    cast(DefaultJSONProvider, app.json).sort_keys = False
    app.config.update(config or {})
    if installation is None:
        if data_dir is None:
            raise ValueError("create_app needs a data directory or an Installation")
        installation = Installation.open(Path(data_dir), database_url, blob_url)
    app.extensions["gonk"] = installation

    # before anything reads the URL: a NUL would otherwise reach the database
    app.before_request(parsing.refuse_nul_in_url)

    @app.before_request
    def _authenticate() -> None:
        if request.routing_exception is not None:
            return  # unknown route or method: answer 404/405 whoever asks
        if request.endpoint in health.UNAUTHENTICATED:
            return
        if request.method == "OPTIONS" \
                and getattr(request.url_rule, "provide_automatic_options", False):
            return  # Flask answers it without a view: which methods, as a 405 says to anyone
        key = _api_key()
        if not key:
            raise Unauthorized("Missing API key: send it in the x-api-key header (or as "
                               "Authorization: Bearer <key>).")
        user = user_for_key(installation, key)
        if user is None:
            raise Unauthorized("Unknown API key.")
        g.user = user

    errors.register(app)
    for module in (health, docs, datasets, members, owners, events, schemas, objects, annotations,
                   releases, label_exports, stats, thumbnails, users, work_queue, proofs):
        app.register_blueprint(module.bp)
    app.register_blueprint(web_bp)  # the web app at / and /app/ (not API operations)
    return app

