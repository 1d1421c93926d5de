"""One place that turns errors into JSON responses with the right status code."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from ..domain.errors import GonkError

log = logging.getLogger("gonk.api")


def _json(status: int, body: dict) -> tuple[Response, int]:
    return jsonify(body), status


def register(app: Flask) -> None:
    @app.errorhandler(GonkError)
    def _domain(error: GonkError) -> tuple[Response, int]:
        return _json(error.status, error.to_json())

    @app.errorhandler(NotFound)
    def _no_route(error: NotFound) -> tuple[Response, int]:
        return _json(404, {"error": f"No such endpoint: {request.method} {request.path}"})

    @app.errorhandler(MethodNotAllowed)
    def _method(error: MethodNotAllowed) -> tuple[Response, int]:
        allowed = sorted(m for m in (error.valid_methods or []) if m not in ("HEAD", "OPTIONS"))
        response, status = _json(405, {
            "error": f"{request.method} is not allowed on {request.path}; "
                     f"allowed: {', '.join(allowed)}."})
        response.headers["Allow"] = ", ".join(error.valid_methods or [])
        return response, status

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error: RequestEntityTooLarge) -> tuple[Response, int]:
        limit = request.max_content_length
        return _json(413, {"error": f"The request body is larger than this server's limit of "
                                    f"{limit} bytes; nothing was stored."})

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[Response, int]:
        return _json(error.code or 500, {"error": error.description or error.name})

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _json(500, {"error": "Internal server error. The request was not carried out; "
                                    "the server log has the details."})
