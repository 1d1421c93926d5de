"""One place that turns errors into JSON responses with the right status code."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from ..domain.errors import GonkError, InsufficientStorage, Unavailable

log = logging.getLogger("gonk.api")


def _json(status: int, body: dict) -> tuple[Response, int]:
    return jsonify(body), status


def register(app: Flask) -> None:
    @app.errorhandler(GonkError)
    def _domain(error: GonkError) -> tuple[Response, int]:
        response, status = _json(error.status, error.to_json())
        if isinstance(error, Unavailable):
            # the reason (hosts, ports, the driver's words) is for operators, not clients
            log.warning("%s %s: the %s is unavailable: %s", request.method, request.path,
                        error.component, error.reason)
            response.headers["Retry-After"] = str(error.retry_after_seconds)
        elif isinstance(error, InsufficientStorage):
            log.error("%s %s: %s", request.method, request.path, error.message)
        return response, status

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
        """Past MAX_CONTENT_LENGTH (JSON bodies) or GONK_MAX_STREAM_BYTES (uploads). A JSON
        object create or update too large for JSON is pointed to the raw upload (?name=),
        which has the stream limit; no other endpoint has another way in."""
        limit = request.max_content_length
        message = f"The request body is larger than this server's limit of {limit} bytes"
        args = request.view_args or {}
        if request.mimetype == "multipart/form-data":
            message += "; no object was created."
        elif request.endpoint in ("objects.create_object", "objects.update_object") \
                and request.mimetype == "application/json" and "name" not in request.args:
            path = f"/datasets/{args.get('dataset', 'D')}/objects"
            if request.endpoint == "objects.update_object":
                path += f"/{args.get('segment', 'UUID')}"
            stream_limit = app.config.get("GONK_MAX_STREAM_BYTES")
            message += (f" for JSON; nothing was stored. Upload a large file as raw bytes "
                        f"instead: {request.method} {path}?name=NAME with the file itself as "
                        f"the body and its own Content-Type (up to {stream_limit} bytes).")
        else:
            message += "; nothing was stored."
        return _json(413, {"error": message})

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[Response, int]:
        return _json(error.code or 500, {"error": error.description or error.name})

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _json(500, {"error": "Internal server error. The request was not carried out; "
                                    "the server log has the details."})
