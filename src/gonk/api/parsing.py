"""Checks on the shape of a request: JSON bodies, base64, path segments, pagination."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import request

from ..domain import validation
from ..domain.errors import Invalid, UnsupportedMediaType

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000


def refuse_nul_in_url() -> None:
    """400 for a NUL character anywhere in the path or the query: PostgreSQL refuses NUL in
    text (SQLite takes it), so it is refused here, before any lookup, the same on every backend.
    No name, identifier or query value Gonk accepts can hold one."""
    if "\x00" in request.path or any("\x00" in key or "\x00" in value
                                     for key, value in request.args.items(multi=True)):
        raise Invalid("The URL holds a NUL character (%00): a control character that no name, "
                      "username, identifier or query value may contain.")


def json_body() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"This endpoint takes a JSON body with Content-Type: application/json "
            f"(got {request.content_type or 'none'!r}).")
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested too deeply for the JSON parser: a client mistake, not a 500
        body = None
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    return body


def string_field(body: dict[str, Any], key: str) -> str:
    if key not in body:
        raise Invalid(f"The field {key!r} is required.")
    value = body[key]
    if not isinstance(value, str):
        raise Invalid(f"The field {key!r} must be a string.")
    return _encodable(value, key)


def _encodable(value: str, key: str) -> str:
    """JSON may carry lone surrogates (\\ud800) that no UTF-8 store or hash can take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(f"The field {key!r} is not valid Unicode text.") from None
    return value


MAX_VERSION = 2**63 - 1  # the largest integer the database can hold


def _version(value: Any, what: str) -> int:
    """A version inside a JSON body: a JSON integer (a string is a mistyped field)."""
    if isinstance(value, str):
        raise Invalid(f"The {what} must be a whole number of 0 or more, not a string.")
    number = validation.parse_version(value, what)
    if number > MAX_VERSION:
        raise Invalid(f"The {what} {number} is too large.")
    return number


def base64_field(body: dict[str, Any], key: str) -> bytes:
    text = string_field(body, key)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"The field {key!r} is not valid standard base64.") from None


def schema_ref(body: dict[str, Any]) -> dict[str, Any]:
    ref = body.get("schema")
    if not isinstance(ref, dict):
        raise Invalid("The field 'schema' is required: {\"name\": \"schema-...\", "
                      "\"version\": N}.")
    name = ref.get("name")
    if isinstance(name, str):
        _encodable(name, "schema.name")
    return {"name": validation.schema_name(name),
            "version": _version(ref.get("version"), "schema version")}


def object_identifiers(body: dict[str, Any]) -> list[dict[str, Any]]:
    identifiers = body.get("object_identifiers")
    if not isinstance(identifiers, list) or not identifiers:
        raise Invalid("The field 'object_identifiers' must be a non-empty list of "
                      "{\"uuid\", \"version\"}.")
    parsed = []
    for ident in identifiers:
        if not isinstance(ident, dict):
            raise Invalid("Each object identifier must be an object {\"uuid\", \"version\"}.")
        parsed.append({"uuid": validation.parse_uuid(ident.get("uuid"), "object uuid"),
                       "version": _version(ident.get("version"), "object version")})
    return parsed


def after_and_limit(cursor: bool = True) -> tuple[str | None, int]:
    """?after= (a uuid; with `cursor` False the caller reads it itself) and ?limit=."""
    after = request.args.get("after") if cursor else None
    if after is not None:
        after = validation.parse_uuid(after, "'after' cursor")
    raw = request.args.get("limit")
    if raw is None:
        return after, DEFAULT_LIMIT
    if not raw.isdigit() or not raw.isascii() or not 1 <= int(raw) <= MAX_LIMIT:
        raise Invalid(f"'limit' must be a whole number from 1 to {MAX_LIMIT}.")
    return after, int(raw)


def name_filters(check_name: Callable[[object], str]) -> tuple[str | None, str | None]:
    """A list's ?name= (exact, checked as a name of the kind listed: 400 for one that no item
    could have) and ?prefix= (an empty prefix filters nothing), never both."""
    name, prefix = request.args.get("name"), request.args.get("prefix")
    if name is not None and prefix is not None:
        raise Invalid("Filter with either ?name= (the exact name) or ?prefix=, not both.")
    if name is not None:
        name = check_name(name)
    if prefix is not None:
        if len(prefix) > validation.MAX_OBJECT_NAME:
            raise Invalid(f"'prefix' must be at most {validation.MAX_OBJECT_NAME} characters.")
        if validation.CONTROL_CHARACTERS.search(prefix):
            raise Invalid("'prefix' may not contain control characters.")
    return name, prefix or None


def schema_filter() -> str | None:
    """The annotation list's ?schema=<schema name>; annotations have no name to filter on."""
    if "name" in request.args or "prefix" in request.args:
        raise Invalid("Annotations have no name: filter them by the name of their schema with "
                      "?schema=schema-...")
    schema = request.args.get("schema")
    return validation.schema_name(schema) if schema is not None else None


def point(name: str = "as_of") -> str | None:
    """A point of the log named in the query (?as_of=, ?from=, ?to=): an event uuid or a
    release name, resolved by releases.resolve_point (400 for neither shape, 404 unknown)."""
    value = request.args.get(name)
    if value is not None and not value:
        raise Invalid(f"'{name}' must be an event uuid or a release name, not empty.")
    return value


def with_as_of(url: str) -> str:
    """A URL of this API carrying the request's ?as_of= on (a load's "bytes_url")."""
    as_of = request.args.get("as_of")
    return f"{url}?as_of={quote(as_of, safe='')}" if as_of else url


def flag(name: str, default: bool) -> bool:
    """A yes/no query parameter such as the loads' ?bytes= and the downloads' ?download=:
    `true` or `false` (absent: `default`); anything else is 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw in ("true", "false"):
        return raw == "true"
    raise Invalid(f"'{name}' must be true or false.")


ITEM_STATUSES = ("accepted", "pending", "deleted", "rejected")
SCHEMA_STATUSES = ("accepted", "pending", "deprecated", "rejected")


def status_word(word: str, valid: tuple[str, ...]) -> str:
    """A status list's word, as the stored flags name it ("deprecated" is "deleted")."""
    if word not in valid:
        raise Invalid(f"{word!r} is not a status; valid statuses are {', '.join(valid)}.",
                      valid_statuses=list(valid))
    return "deleted" if word == "deprecated" else word


def not_a_status_method(allowed: str = "GET") -> None:
    from werkzeug.exceptions import MethodNotAllowed

    raise MethodNotAllowed(valid_methods=[allowed])


def version_identifier(item_uuid: str, version: str, noun: str) -> tuple[str, int]:
    """The `<uuid>/<version>` of a path, checked (400 for a bad UUID or version)."""
    return validation.parse_uuid(item_uuid, f"{noun} uuid"), validation.parse_version(version)
