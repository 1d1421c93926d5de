"""Releases (named points of a dataset's log), their manifests, and diffs between points.

Releases are made by owners, never change and are never deleted: PATCH, PUT and DELETE on one
are 405 (Flask answers them, as JSON: errors.py).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request

from .. import releases
from ..domain import validation
from ..domain.errors import Invalid
from . import context, parsing

bp = Blueprint("releases", __name__, url_prefix="/datasets/<dataset>")
# NUL and the other C0 controls but tab, LF and CR (PostgreSQL refuses NUL in text)
DESCRIPTION_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _optional_string(body: dict[str, object], key: str) -> str | None:
    if body.get(key) is None:
        return None
    return parsing.string_field(body, key)


@bp.post("/releases")
def create_release(dataset: str) -> Response:
    name = context.dataset(dataset)
    body = parsing.json_body()
    release_name = validation.release_name(parsing.string_field(body, "name"))
    description = _optional_string(body, "description") or ""
    if len(description) > validation.MAX_RELEASE_DESCRIPTION:
        raise Invalid(f"'description' may be at most {validation.MAX_RELEASE_DESCRIPTION} "
                      "characters.")
    if DESCRIPTION_CONTROLS.search(description):
        raise Invalid("'description' may not contain control characters other than tab and "
                      "line breaks.")
    at = _optional_string(body, "at")
    if at is not None:
        at = validation.parse_uuid(at, "'at' event uuid")
    return jsonify(releases.create_release(context.installation(), name, context.user(),
                                           release_name, description, at))


@bp.get("/releases")
def list_releases(dataset: str) -> Response:
    name = context.dataset(dataset)
    after = request.args.get("after")
    if after is not None:
        after = validation.release_name(after)
    _, limit = parsing.after_and_limit(cursor=False)
    return jsonify(releases.list_releases(context.installation(), name, after, limit))


@bp.get("/releases/<release>")
def get_release(dataset: str, release: str) -> Response:
    name = context.dataset(dataset)
    return jsonify(releases.get_release(context.installation(), name,
                                        validation.release_name(release)))


@bp.get("/releases/<release>/manifest")
def manifest(dataset: str, release: str) -> Response:
    """JSON Lines, streamed: one RFC 8785 line per version in the release's content. The ETag
    is the manifest's sha256 (the release's manifest_sha256)."""
    name = context.dataset(dataset)
    found, lines = releases.release_manifest(context.installation(), name,
                                             validation.release_name(release))
    if request.if_none_match.contains_weak(found.manifest_sha256):
        # the client has these bytes: 304, and the lines are never read (werkzeug's
        # make_conditional would read the whole body first, to set its Content-Length)
        response = Response(status=304)
    else:
        response = Response(lines, mimetype=releases.MANIFEST_MIMETYPE)
        response.headers["Content-Disposition"] = f'inline; filename="{found.name}.jsonl"'
    response.set_etag(found.manifest_sha256)
    return response


@bp.get("/diff")
def diff(dataset: str) -> Response:
    """Changes between the content at ?from= (omitted: the empty dataset) and at ?to=
    (omitted: the latest event), paged with ?after=<uuid> and ?limit=."""
    name = context.dataset(dataset)
    after, limit = parsing.after_and_limit()
    changes, to_uuid = releases.diff_page_to(context.installation(), name,
                                             parsing.point("from"), parsing.point("to"),
                                             after, limit)
    response = jsonify(changes)
    # the `to` point as an event uuid: pass it as ?to= for the next pages when it was omitted
    response.headers["Gonk-Diff-To"] = to_uuid
    return response
