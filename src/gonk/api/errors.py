"""One place that turns errors into JSON responses with the right status code, and the answers
the router gives without a view (404 for a path no route has, 405, OPTIONS) into JSON too."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, jsonify, request
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import (
    ClientDisconnected,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)

from ..domain.errors import GonkError, InsufficientStorage, Unavailable

log = logging.getLogger("gonk.api")


def _json(status: int, body: dict) -> tuple[Response, int]:
    return jsonify(body), status


BODY_UNREADABLE = ("The request body could not be read: it ended before its Content-Length, "
                   "its chunked framing is malformed, or it stopped arriving. Nothing was "
                   "carried out.")
# %2F in the path: no Gonk URL has a slash inside a segment, and the server hands the path over
# decoded, where it would be taken for a separator (see _no_encoded_slashes).
ENCODED_SLASH = re.compile(r"%2f", re.IGNORECASE)


def register(app: Flask) -> None:
    # Empty path segments (`/datasets//D/objects`) are a 404 like any other unknown path, not a
    # 308 redirect to the path with the slashes merged (werkzeug's default), whose Location is
    # built from the client's Host header.
    app.url_map.merge_slashes = False

    @app.url_value_preprocessor
    def _no_encoded_slashes(endpoint: str | None, values: dict[str, Any] | None) -> None:
        """A path with %2F is refused as unknown, before authentication as every 404 is:
        `/datasets/D%2Fobjects` is not `/datasets/D/objects`. (Runs before the
        before_request functions, whichever registered first.)"""
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
        if ENCODED_SLASH.search(raw.partition("?")[0]):
            raise NotFound()

    @app.after_request
    def _options(response: Response) -> Response:
        """Flask answers OPTIONS on every route by itself, with an Allow header and an empty
        body: give it the JSON body every other answer has."""
        if request.method == "OPTIONS" and response.status_code == 200 \
                and getattr(request.url_rule, "provide_automatic_options", False):
            allowed = [m.strip() for m in response.headers.get("Allow", "").split(",")]
            response.set_data(jsonify({"allow": sorted(m for m in allowed if m)}).get_data())
            response.mimetype = "application/json"
        return response

    @app.errorhandler(ClientDisconnected)
    def _body_unreadable(error: ClientDisconnected) -> tuple[Response, int]:
        """The body ended before its Content-Length, or a read of it failed (too slow under
        `serve`, broken chunked framing under `run`): the client's doing, never a 500."""
        return _json(400, {"error": BODY_UNREADABLE})

    @app.errorhandler(ParseException)
    @app.errorhandler(NoMoreData)
    def _body_framing(error: Exception) -> tuple[Response, int]:
        """gunicorn's chunked decoder refusing the body (a bad chunk size or extension, a
        missing CRLF, a trailer too large) or the connection ending inside it."""
        return _json(400, {"error": BODY_UNREADABLE})

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
        path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") \
            or request.path
        return _json(404, {"error": f"No such endpoint: {request.method} "
                                    f"{path.partition('?')[0]}"})

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
