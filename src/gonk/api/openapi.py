"""The OpenAPI 3.1 description of the whole HTTP API, kept here and nowhere else: every route,
parameter, request body, response and error shape, as Python data. `GET /openapi.json` serves
it and `GET /docs` renders it (api/docs.py); tests/api/test_openapi.py validates it and checks
that its operations are exactly the app's routes, and tests/fuzz/ runs Schemathesis against a
live server with it (every response must conform).

When a route, a parameter or a response changes, change it here too: the route test fails on a
missing or extra operation, the fuzz test on a response the document does not allow.
"""

from __future__ import annotations

import base64
import copy
import functools
from collections.abc import Sequence
from typing import Any

from .. import __version__ as gonk_version
from .. import thumbnails
from ..domain import validation
from . import parsing

JSON = "application/json"
OPENAPI_VERSION = "3.1.0"

# --- reusable pieces --------------------------------------------------------------------------


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema(name: str) -> dict[str, str]:
    return _ref("schemas", name)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


UUID = {"type": "string", "format": "uuid",
        "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        "description": "A UUID in its 36-character lowercase form."}
HASH_B64 = {"type": "string", "pattern": "^[A-Za-z0-9+/]{43}=$",
            "description": "A SHA-256 hash, base64."}
UUID_ANY_CASE = {"type": "string",
                 "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                            "[0-9a-fA-F]{12}$",
                 "description": "A UUID, in any case."}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$",
          "description": "The hex sha256 of the bytes."}
VERSION = {"type": "integer", "minimum": 0, "maximum": parsing.MAX_VERSION,
           "description": "A version number, from 0."}
PATH_VERSION = {**VERSION, "maximum": 10**18 - 1}  # at most 18 digits in a URL
NO_CONTROLS = "[^\\x00-\\x1f\\x7f]"
# not blank, no control characters (validation.mimetype)
MIMETYPE_PATTERN = f"^{NO_CONTROLS}*[^\\s\\x00-\\x1f\\x7f]{NO_CONTROLS}*$"
OBJECT_NAME = {"type": "string", "minLength": 1, "maxLength": validation.MAX_OBJECT_NAME,
               "pattern": f"^{NO_CONTROLS}+$", "not": {"pattern": "^schema-"},
               "description": "1 to 255 characters, no control characters, not starting with "
                              "`schema-`."}
COUNT = {"type": "integer", "minimum": 0}
TIMESTAMP = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$",
             "description": "UTC, ISO 8601 with `Z`."}
DATASET_NAME = {"type": "string", "pattern": f"^{validation.DATASET_NAME.pattern}$",
                "description": "1 to 128 of `A-Z a-z 0-9 -`, not starting with `-`."}
SCHEMA_NAME = {"type": "string", "pattern": f"^{validation.SCHEMA_NAME.pattern}$",
               "description": "`schema-` then 1 to 248 of `A-Z a-z 0-9 . _ -`."}
RELEASE_NAME = {"type": "string", "pattern": f"^{validation.RELEASE_NAME.pattern}$",
                "description": "1 to 128 of `A-Z a-z 0-9 . _ -`, starting with a letter or "
                               "digit, not shaped like a UUID."}
POINT = {"anyOf": [UUID_ANY_CASE, RELEASE_NAME],
         "description": "A point of the log: an event uuid (any case) or a release name."}
ROLE = {"enum": ["viewer", "annotator", "reviewer"],
        "description": "viewer: reads; annotator: also proposes changes; reviewer: also accepts "
                       "and rejects them."}
TTL = {"type": "number", "minimum": 1, "maximum": 3600,
       "description": "Seconds the lease lasts (default 300)."}
USERNAME = {"type": "string", "pattern": f"^{validation.USERNAME.pattern}$",
            "description": "1 to 64 of `A-Z a-z 0-9 . _ -`."}
PREFIX = {"type": "string", "maxLength": validation.MAX_OBJECT_NAME,
          "pattern": f"^{NO_CONTROLS}*$"}
BASE64 = {"type": "string", "contentEncoding": "base64",
          "description": "Standard base64 (RFC 4648, with padding)."}
REVIEW = {"enum": ["PENDING", "ACCEPTED", "REJECTED", None],
          "description": "The review of a content event; null for owner and review events."}
EVENT_TYPES = ["OwnerAddEvent", "OwnerRemoveEvent", "ObjectCreateEvent", "ObjectUpdateEvent",
               "ObjectDeleteEvent", "AnnotationCreateEvent", "AnnotationUpdateEvent",
               "AnnotationDeleteEvent", "ReviewAcceptEvent", "ReviewRejectEvent",
               "MemberSetEvent", "MemberRemoveEvent", "DatasetSettingsEvent"]
EXPORT_FORMATS = ["coco", "yolo", "voc", "csv", "parquet"]


def _obj(properties: dict[str, Any], required: list[str] | None = None,
         description: str | None = None, additional: bool = False) -> dict[str, Any]:
    """An object schema; all properties required unless `required` says which."""
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": list(properties) if required is None else required,
                              "additionalProperties": additional}
    if description:
        schema["description"] = description
    return schema


def _array(items: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items}
    if description:
        schema["description"] = description
    return schema


SCHEMAS: dict[str, dict[str, Any]] = {
    "Lease": _obj({"id": UUID, "task": {"enum": ["annotate", "review"]}, "expires": TIMESTAMP},
                  description="A claim on one task, live until `expires`."),
    "Claim": _obj({"lease": {"anyOf": [_ref("schemas", "Lease"), {"type": "null"}]},
                   "item": {"anyOf": [{"type": "object"}, {"type": "null"}]}},
                  description="The lease and what it is on (`object` and `schema`, or "
                              "`event`); both null when nothing is left."),
    "DatasetInfo": _obj({"dataset": DATASET_NAME,
                         "visibility": {"enum": ["internal", "private"]},
                         "require_other_reviewer": {"type": "boolean"},
                         "access": {"enum": ["owner", "reviewer", "annotator", "viewer"]}},
                        description="A dataset's settings and what the caller may do in it."),
    "User": _obj({"name": USERNAME, "admin": {"type": "boolean"}, "created": TIMESTAMP,
                  "deleted": {"anyOf": [TIMESTAMP, {"type": "null"}],
                              "description": "When the user was deleted; null while they "
                                             "are not."}},
                 description="A user of the server (never their key)."),
    "Error": _obj({
        "error": {"type": "string", "description": "A sentence a person understands."},
        "details": _array(_obj({"path": {"type": "string",
                                         "description": "A JSON pointer into the document."},
                                "message": {"type": "string"}}),
                          "Where and why a schema or an annotation was refused (422)."),
        "existing": {"description": "What already holds the name or the bytes (409): an object "
                                    "or annotation version, a schema, or a release.",
                     "anyOf": [_schema("Identifier"), _schema("ItemInfo"),
                               _obj({"name": RELEASE_NAME})]},
        "valid_statuses": _array({"type": "string"},
                                 "The status words of that list, for a bad one (400)."),
        "component": {"enum": ["database", "blob store"],
                      "description": "The storage component that is unavailable (503) or "
                                     "full (507)."},
        "objects": _array(_schema("CreatedObject"),
                          "A form upload refused after earlier files of the same request were "
                          "created: those, which stay created."),
    }, required=["error"], description="Every error: a JSON object with `error`, sometimes with "
                                        "more keys. Never a stack trace."),
    "Identifier": _obj({"uuid": UUID, "version": VERSION},
                       description="One version of an object, schema or annotation."),
    "ItemInfo": _obj({"uuid": UUID, "versions": {**COUNT, "minimum": 1}},
                     description="An object or annotation: how many versions it has, whatever "
                                 "their status."),
    "SchemaInfo": _obj({"name": SCHEMA_NAME, "uuid": UUID, "versions": {**COUNT, "minimum": 1}}),
    "SchemaVersionEntry": _obj({"uuid": UUID, "name": SCHEMA_NAME, "version": VERSION},
                               description="A schema version in a status list."),
    "ObjectListEntry": _obj({"uuid": UUID, "versions": {**COUNT, "minimum": 1},
                             "name": {"type": "string",
                                      "description": "The newest version's name."}}),
    "AnnotationListEntry": _obj({
        "uuid": UUID, "versions": {**COUNT, "minimum": 1},
        "schema": _obj({"uuid": UUID, "version": VERSION, "name": SCHEMA_NAME},
                       description="The schema version of the newest annotation version."),
    }),
    "CreatedObject": _obj({"uuid": UUID, "version": VERSION, "name": {"type": "string"}}),
    "ObjectMetadata": _obj({"uuid": UUID, "version": VERSION, "name": {"type": "string"},
                            "format": {"type": "string", "description": "The mimetype."},
                            "size": COUNT, "hash_type": {"const": 1}, "hash": SHA256}),
    "SchemaMetadata": _obj({"uuid": UUID, "version": VERSION, "name": SCHEMA_NAME,
                            "format": {"const": "application/schema+json"},
                            "size": COUNT, "hash_type": {"const": 1}, "hash": SHA256}),
    "AnnotationMetadata": _obj({"uuid": UUID, "version": VERSION,
                                "schema": _schema("Identifier"),
                                "size": COUNT, "hash_type": {"const": 1}, "hash": SHA256}),
    "EventSummary": _obj({"uuid": UUID, "type": {"enum": EVENT_TYPES}, "review": REVIEW}),
    "ObjectLoad": _obj({
        "object": _schema("ObjectMetadata"),
        "bytes": {"anyOf": [BASE64, {"type": "null"}],
                  "description": "null with `?bytes=false`, or past the JSON limit."},
        "bytes_url": {"type": "string", "description": "Where to download the bytes (only when "
                                                       "`bytes` is null)."},
        "events": _array(_schema("EventSummary"), "Every event that touched this version."),
        "annotations": _array(_schema("ItemInfo"), "Annotations attached to this version."),
    }, required=["object", "bytes", "events", "annotations"]),
    "SchemaLoad": _obj({
        "schema": _schema("SchemaMetadata"),
        "bytes": {"anyOf": [BASE64, {"type": "null"}]},
        "bytes_url": {"type": "string"},
        "events": _array(_schema("EventSummary")),
    }, required=["schema", "bytes", "events"]),
    "AnnotationLoad": _obj({
        "annotation": _schema("AnnotationMetadata"),
        "bytes": {"anyOf": [BASE64, {"type": "null"}]},
        "bytes_url": {"type": "string"},
        "events": _array(_schema("EventSummary")),
        "objects": _array(_schema("Identifier"), "The object versions it is attached to."),
    }, required=["annotation", "bytes", "events", "objects"]),
    "Event": {
        "type": "object",
        "description": "An event exactly as stored and hashed, plus its `integrity`. The fields "
                       "beyond the common ones depend on `type` (SPEC section 5).",
        "required": ["uuid", "type", "timestamp", "author", "integrity"],
        "properties": {
            "uuid": UUID, "type": {"enum": EVENT_TYPES}, "timestamp": TIMESTAMP,
            "author": USERNAME, "integrity": SHA256,
            "owner": USERNAME, "owner_action": {"enum": [1, 2]},
            "action": {"enum": [1, 2, 4]},
            "object": {"anyOf": [_schema("ObjectMetadata"), _schema("SchemaMetadata")]},
            "object_identifier": _schema("Identifier"),
            "annotation": _schema("AnnotationMetadata"),
            "object_identifiers": _array(_schema("Identifier")),
            "annotation_identifier": _schema("Identifier"),
            "decision": {"enum": [1, 2]}, "event_uuid": UUID,
            "member": USERNAME, "role": {"enum": ["viewer", "annotator", "reviewer"]},
            "visibility": {"enum": ["internal", "private"]},
            "require_other_reviewer": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
    "Point": _obj({"uuid": UUID, "index": {**COUNT, "description": "The event's 0-based "
                                                                  "position in the log."},
                   "integrity": SHA256}, description="A point of the log: right after an event."),
    "Release": _obj({
        "name": RELEASE_NAME, "description": {"type": "string"}, "author": USERNAME,
        "created": TIMESTAMP, "at": _schema("Point"),
        "counts": _obj({"objects": COUNT, "schemas": COUNT, "annotations": COUNT,
                        "bytes": COUNT, "stale_annotations": COUNT}),
        "manifest_sha256": SHA256,
        "checkpoint": {"type": "string", "description": "The dataset's signed checkpoint at the "
                       "release's point (a C2SP signed note, as GET .../checkpoint serves)."},
    }),
    "InclusionProof": _obj({
        "index": {"type": "integer", "minimum": 0,
                  "description": "The event's leaf index: its position in the log, from 0."},
        "size": {"type": "integer", "minimum": 1, "description": "The tree size proved in."},
        "hashes": _array(HASH_B64, "RFC 9162 inclusion path, the deepest sibling first."),
        "event": {"type": "object", "description": "The event as stored (as the events list "
                  "serves it): hash it yourself (SHA-256 of 0x00 and its RFC 8785 bytes) to get "
                  "the leaf the proof starts from."},
    }),
    "ConsistencyProof": _obj({
        "from": {"type": "integer", "minimum": 1}, "to": {"type": "integer", "minimum": 1},
        "hashes": _array(HASH_B64, "RFC 9162 consistency proof."),
    }),
    "DiffSide": {"anyOf": [_obj({"version": VERSION,
                                 "name": {"type": ["string", "null"]}, "sha256": SHA256}),
                           {"type": "null"}]},
    "DiffEntry": _obj({"kind": {"enum": ["schema", "object", "annotation"]}, "uuid": UUID,
                       "change": {"enum": ["added", "removed", "changed"]},
                       "from": _schema("DiffSide"), "to": _schema("DiffSide")}),
    "Stats": _obj({
        "dataset": DATASET_NAME, "at": _schema("Point"),
        "objects": _obj({w: COUNT for w in parsing.ITEM_STATUSES}),
        "schemas": _obj({w: COUNT for w in parsing.SCHEMA_STATUSES}),
        "annotations": _obj({w: COUNT for w in parsing.ITEM_STATUSES}),
        "bytes": COUNT, "annotated_objects": COUNT,
        "labels": _array(_obj({"schema": SCHEMA_NAME, "kind": {"type": "string"},
                               "label": {"type": "string"}, "count": COUNT})),
    }),
    "Health": _obj({"status": {"enum": ["ok", "unavailable"]},
                    "database": {"enum": ["ok", "unavailable"]},
                    "blob_store": {"enum": ["ok", "unavailable"]},
                    "error": {"type": "string"}},
                   required=["status", "database", "blob_store"]),
    "ObjectCreateJson": _obj({"name": OBJECT_NAME,
                              "mimetype": {"type": "string", "minLength": 1, "maxLength": 255,
                                           "pattern": MIMETYPE_PATTERN,
                                           "description": "Kept as given; no control "
                                                          "characters."},
                              "object": BASE64},
                             description="An object as JSON (the seed's form).",
                             additional=True),
    "FileUpload": {"type": "object", "required": ["file"],
                   "properties": {"file": {"type": "array", "minItems": 1,
                                           "items": {"type": "string",
                                                     "contentMediaType":
                                                         "application/octet-stream"}}},
                   "description": "`multipart/form-data`: one file part per object, named by its "
                                  "filename (or by `?name=` for a single file)."},
}

SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
               "description": "The key `gonk-api init` or `gonk-api users add` printed."},
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "The same key as `Authorization: Bearer <key>`."},
}


def _param(name: str, where: str, schema: dict[str, Any], description: str,
           required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema, **extra}


PARAMETERS: dict[str, dict[str, Any]] = {
    "dataset": _param("dataset", "path", DATASET_NAME, "The dataset's name.", example="birds"),
    "user_name": _param("name", "path", USERNAME, "The user's name.", example="carol"),
    "lease_id": _param("lease_id", "path", UUID_ANY_CASE, "The lease's id."),
    "after": _param("after", "query", UUID_ANY_CASE,
                    "Exclusive cursor: the uuid of the last entry received (creation order); 404 "
                    "when it names nothing of that kind in the dataset."),
    "limit": _param("limit", "query", {"type": "integer", "minimum": 1,
                                       "maximum": parsing.MAX_LIMIT, "default":
                                           parsing.DEFAULT_LIMIT},
                    "Page size."),
    "as_of": _param("as_of", "query", POINT,
                    "Read as right after this point: an event uuid (any case) or a release "
                    "name. Malformed: 400; unknown: 404.", example="v1.0"),
    "bytes": _param("bytes", "query", {"enum": ["true", "false"], "default": "true"},
                    "`false`: leave the bytes out (`bytes` null, `bytes_url` given)."),
    "download": _param("download", "query", {"enum": ["true", "false"], "default": "false"},
                       "`true`: `Content-Disposition: attachment` (save) instead of `inline`."),
    "version": _param("version", "path", PATH_VERSION, "The version number.", example=0),
    "object_uuid": _param("object_uuid", "path", UUID_ANY_CASE, "The object's uuid."),
    "annotation_uuid": _param("annotation_uuid", "path", UUID_ANY_CASE, "The annotation's uuid."),
    "schema_name": _param("schema_name", "path", SCHEMA_NAME, "The schema's name.",
                          example="schema-label"),
    "release": _param("release", "path", RELEASE_NAME, "The release's name.", example="v1.0"),
    "Range": _param("Range", "header", {"type": "string"},
                    "A single byte range (`bytes=0-1023`): 206; unsatisfiable: 416."),
    "If-Match": _param("If-Match", "header", {"type": "string"},
                       "Entity tags; one that does not name this version's ETag: 412."),
    "If-None-Match": _param("If-None-Match", "header", {"type": "string"},
                            "Entity tags; naming the current ETag: 304."),
    "If-Range": _param("If-Range", "header", {"type": "string"},
                       "Honour `Range` only if this still names the ETag (or date)."),
}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description,
                                "content": _json(_schema("Error"))}
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"Retry-After": {"required": True, "description": "Seconds to wait.",
                               "schema": {"type": "string", "pattern": "^[0-9]+$"}}}

RESPONSES: dict[str, dict[str, Any]] = {
    "BadRequest": _error("Malformed request: not JSON, a missing or mistyped field, bad base64, "
                         "a bad name, UUID, version, status word, `after` or `limit`, a NUL in "
                         "the URL, a body cut short."),
    "Unauthorized": _error("Missing or unknown API key."),
    "Forbidden": _error("Authenticated, but not allowed: a role short of what the operation "
                        "takes (the message names it: annotator to propose changes, reviewer "
                        "to review them, owner to manage the dataset), accepting one's own "
                        "change where another reviewer is required, removing a higher-ranked "
                        "owner, or not an instance admin."),
    "NotFound": _error("Unknown dataset, schema, object, annotation, event, release, version, "
                       "user, or `after`/`as_of` point."),
    "MethodNotAllowed": _error("Not on this path (a status list takes GET only).",
                               headers={"Allow": {"required": True, "schema":
                                                  {"type": "string"}}}),
    "Conflict": _error("Conflicts with the dataset's state: name taken, already reviewed, "
                       "deletion already pending, content unchanged, duplicate content "
                       "(`existing`), referencing something rejected or deleted, the last "
                       "owner."),
    "PreconditionFailed": _error("An `If-Match` that does not name this version's ETag; no "
                                 "bytes are sent.",
                                 headers={"ETag": {"required": True,
                                                   "schema": {"type": "string"}}}),
    "PayloadTooLarge": _error("The body is larger than the server's limit (JSON bodies: "
                              "`GONK_MAX_JSON_BYTES`; uploads: `GONK_MAX_STREAM_BYTES`), or a "
                              "schema or annotation over its size limit."),
    "UnsupportedMediaType": _error("Wrong `Content-Type` for this endpoint."),
    "UriTooLong": _error("The request line is longer than the HTTP server takes (`serve`: 4094 "
                         "bytes)."),
    "HeadersTooLarge": _error("Too many request headers, or headers too large (`serve`)."),
    "RangeNotSatisfiable": _error("A `Range` that is malformed, multiple or past the end.",
                                  headers={"Content-Range": {
                                      "required": True, "description": "`bytes */<size>`",
                                      "schema": {"type": "string"}}}),
    "Unprocessable": _error("A schema that is not a valid JSON Schema (or has a pattern Gonk "
                            "cannot run in linear time), or an annotation that does not "
                            "conform: `details` says where and why."),
    "NotInstalled": _error("The server lacks the optional package this format needs (the "
                           "`labels` extra); the message names the pip command."),
    "Unavailable": _error("The database or the blob store is unreachable or failing "
                          "(`component` says which); try again.", headers=RETRY_AFTER),
    "InsufficientStorage": _error("The disk (or quota) under the database or the blob store is "
                                  "full (`component` says which); nothing was stored."),
}

# --- operations ---------------------------------------------------------------------------------

# the HTTP server's own refusals, whatever the operation: a request line or headers too large
SERVER_ERRORS = ("414", "431")
READ_ERRORS = ("400", "401", "404", "503")
# (403: a member's role may not allow the write: README, "Members, roles and visibility")
WRITE_ERRORS = ("400", "401", "403", "404", "409", "503", "507")
JSON_BODY_ERRORS = ("413", "415")
ERROR_NAMES = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden",
               "404": "NotFound", "405": "MethodNotAllowed", "409": "Conflict",
               "412": "PreconditionFailed", "413": "PayloadTooLarge", "414": "UriTooLong",
               "431": "HeadersTooLarge",
               "415": "UnsupportedMediaType", "416": "RangeNotSatisfiable",
               "422": "Unprocessable", "501": "NotInstalled", "503": "Unavailable",
               "507": "InsufficientStorage"}


def _operation(operation_id: str, tag: str, summary: str, description: str,
               ok: dict[str, Any], errors: tuple[str, ...], parameters: Sequence[Any] = (),
               body: dict[str, Any] | None = None, links: dict[str, Any] | None = None,
               other: dict[str, Any] | None = None, public: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok}
    if links:
        ok["links"] = links
    responses.update(other or {})
    for status in sorted({*errors, *SERVER_ERRORS}):
        responses[status] = _ref("responses", ERROR_NAMES[status])
    operation: dict[str, Any] = {"operationId": operation_id, "tags": [tag], "summary": summary,
                                 "description": description, "parameters": list(parameters),
                                 "responses": responses}
    if body is not None:
        operation["requestBody"] = body
    if public:
        operation["security"] = []
    return operation


def _ok(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None,
        ) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json(schema)}
    if headers:
        response["headers"] = headers
    return response


def _p(name: str) -> dict[str, str]:
    return _ref("parameters", name)


def _json_body(schema: dict[str, Any], description: str, example: Any = None
               ) -> dict[str, Any]:
    content = _json(schema)
    if example is not None:
        content[JSON]["example"] = example
    return {"required": True, "description": description, "content": content}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


LABEL_SCHEMA = (b'{"type": "object", "properties": {"label": {"type": "string"}}, '
                b'"required": ["label"]}')


def _link(operation_id: str, description: str, **parameters: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description,
            "parameters": {"dataset": "$request.path.dataset", **parameters}}


DOWNLOAD_HEADERS = {
    "ETag": {"required": True, "description": "The version's sha256, a strong validator.",
             "schema": {"type": "string", "pattern": '^"[0-9a-f]{64}"$'}},
    "Content-Length": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}},
    "Content-Disposition": {"required": True,
                            "description": "`inline` (or `attachment` with `?download=true`), "
                                           "with the file's name (RFC 6266).",
                            "schema": {"type": "string",
                                       "pattern": "^(inline|attachment); filename="}},
    "Accept-Ranges": {"required": True, "schema": {"const": "bytes"}},
    "Cache-Control": {"required": True, "schema": {"type": "string"}},
}


def _download(operation_id: str, tag: str, summary: str, what: str,
              content: dict[str, Any], parameters: list[Any]) -> dict[str, Any]:
    return _operation(
        operation_id, tag, summary,
        f"{what}, streamed, with a strong `ETag` (its sha256): `If-None-Match` gives 304, an "
        "`If-Match` that does not name it 412; a single `Range` gives 206 (416 when "
        "unsatisfiable). Takes `?as_of=`.",
        {"description": "The bytes.", "content": content, "headers": DOWNLOAD_HEADERS},
        (*READ_ERRORS, "412", "416"),
        [_p("dataset"), *parameters, _p("as_of"), _p("download"), _p("Range"), _p("If-Match"),
         _p("If-None-Match"), _p("If-Range")],
        other={"206": {"description": "One range of the bytes (so not necessarily a whole "
                                      "document, whatever the Content-Type).",
                       "content": {"*/*": {}},
                       "headers": {"Content-Range": {"required": True,
                                                     "schema": {"type": "string",
                                                                "pattern": "^bytes [0-9]+-"}},
                                   "ETag": DOWNLOAD_HEADERS["ETag"]}},
               "304": {"description": "The client's copy is current (`If-None-Match`).",
                       "headers": {"ETag": DOWNLOAD_HEADERS["ETag"]}}})


def _status_or_id(noun: str, statuses: tuple[str, ...], id_schema: dict[str, Any],
                  example: str) -> dict[str, Any]:
    return _param("segment", "path", {"anyOf": [id_schema, {"enum": list(statuses)}]},
                  f"A {noun} (see the description), or a status word: "
                  f"{', '.join(statuses)}.", example=example)


def _paths() -> dict[str, dict[str, Any]]:
    D = "/datasets/{dataset}"
    objects_segment = _status_or_id("object uuid", parsing.ITEM_STATUSES, UUID_ANY_CASE,
                                    "pending")
    annotations_segment = _status_or_id("annotation uuid", parsing.ITEM_STATUSES, UUID_ANY_CASE,
                                        "accepted")
    schemas_segment = _status_or_id("schema name", parsing.SCHEMA_STATUSES, SCHEMA_NAME,
                                    "schema-label")
    object_links = {
        "ObjectInfo": _link("objectInfoOrStatus", "The new object's info.",
                            segment="$response.body#/uuid"),
        "LoadObject": _link("loadObject", "Load the new version.",
                            object_uuid="$response.body#/uuid",
                            version="$response.body#/version"),
        "ObjectBytes": _link("objectBytes", "Download the new version's bytes.",
                             object_uuid="$response.body#/uuid",
                             version="$response.body#/version"),
        "ObjectThumbnail": _link("objectThumbnail", "A thumbnail of the new version.",
                                 object_uuid="$response.body#/uuid",
                                 version="$response.body#/version"),
        "DeleteObject": _link("deleteObject", "Propose deleting the new version.",
                              object_uuid="$response.body#/uuid",
                              version="$response.body#/version"),
        "UpdateObject": _link("updateObject", "A new version of the object.",
                              segment="$response.body#/uuid"),
        "PendingEvents": _link("listEvents", "The events awaiting review (this create among "
                                             "them).", **{"query.pending": "true"}),
    }
    object_links["AnnotateObject"] = {
        "operationId": "createAnnotation",
        "description": "Annotate the new version, against version 0 of the schema of the "
                       "examples (`schema-label`, `{\"label\": string}`).",
        "parameters": {"dataset": "$request.path.dataset"},
        "requestBody": {"schema": {"name": "schema-label", "version": 0},
                        "object_identifiers": [{"uuid": "$response.body#/uuid",
                                                "version": "$response.body#/version"}],
                        "annotation": _b64(b'{"label": "bird"}')}}
    annotation_links = {
        "AnnotationInfo": _link("annotationInfoOrStatus", "The annotation's info.",
                                segment="$response.body#/uuid"),
        "LoadAnnotation": _link("loadAnnotation", "Load the new version.",
                                annotation_uuid="$response.body#/uuid",
                                version="$response.body#/version"),
        "AnnotationBytes": _link("annotationBytes", "The new version's document.",
                                 annotation_uuid="$response.body#/uuid",
                                 version="$response.body#/version"),
        "DeleteAnnotation": _link("deleteAnnotation", "Propose deleting the new version.",
                                  annotation_uuid="$response.body#/uuid",
                                  version="$response.body#/version"),
        "UpdateAnnotation": _link("updateAnnotation", "A new version of the annotation.",
                                  segment="$response.body#/uuid"),
    }
    schema_links = {
        "SchemaInfo": _link("schemaInfoOrStatus", "The schema's info.",
                            segment="$response.body#/name"),
        "LoadSchema": _link("loadSchema", "Load its first version.",
                            schema_name="$response.body#/name", version="0"),
        "SchemaBytes": _link("schemaBytes", "Its first version's document.",
                             schema_name="$response.body#/name", version="0"),
        "UpdateSchema": _link("updateSchema", "A new version of the schema.",
                              segment="$response.body#/name"),
        "DeprecateSchema": _link("deprecateSchema", "Propose deprecating its first version.",
                                 schema_name="$response.body#/name", version="0"),
    }
    release_links = {
        "GetRelease": _link("getRelease", "The release.", release="$response.body#/name"),
        "Manifest": _link("releaseManifest", "Its manifest.", release="$response.body#/name"),
        "Export": _link("exportRelease", "Its labels as COCO.", release="$response.body#/name",
                        **{"query.format": "coco"}),
        "ObjectsAsOf": _link("listObjects", "The objects as of the release.",
                             **{"query.as_of": "$response.body#/name"}),
        "StatsAsOf": _link("datasetStats", "The statistics as of the release.",
                           **{"query.as_of": "$response.body#/name"}),
    }
    dataset_links = {
        name: {"operationId": op, "description": f"{name} of the new dataset.",
               "parameters": {"dataset": "$response.body#/dataset"}}
        for name, op in (("CreateObject", "createObject"), ("CreateSchema", "createSchema"),
                         ("ListEvents", "listEvents"), ("ListOwners", "listOwners"),
                         ("ListObjects", "listObjects"), ("Stats", "datasetStats"),
                         ("CreateRelease", "createRelease"))}
    owner_links = {
        "AddOwner": _link("addOwner", "Add the highest-ranked owner again (409).",
                          user="$response.body#/0"),
        "RemoveOwner": _link("removeOwner", "Remove the highest-ranked owner.",
                             user="$response.body#/0"),
    }
    event_links = {
        "Accept": _link("acceptEvent", "Accept the first event of the page.",
                        event_uuid="$response.body#/0/uuid"),
        "Reject": _link("rejectEvent", "Reject the first event of the page.",
                        event_uuid="$response.body#/0/uuid"),
    }
    object_body = {
        "required": False,  # a raw upload may be empty: an empty object
        "description": "One of three forms. JSON (`application/json`, the seed's form); a "
                       "`multipart/form-data` form upload (one object per file part; its "
                       "answer is `{\"objects\": [...]}`); or the raw bytes with `?name=` and "
                       "the file's own `Content-Type` (any type but the two above; with "
                       "`?name=`, even JSON is taken as raw bytes). A mimetype that says nothing "
                       "(`application/octet-stream`, `application/x-www-form-urlencoded`, none) "
                       "is guessed from the bytes and the name.",
        "content": {
            JSON: {"schema": _schema("ObjectCreateJson"),
                   "example": {"name": "birds.txt", "mimetype": "text/plain",
                               "object": _b64(b"two birds")}},
            "multipart/form-data": {"schema": _schema("FileUpload")},
            "application/octet-stream": {"schema": {"type": "string",
                                                    "contentMediaType":
                                                        "application/octet-stream"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
    name_query = _param("name", "query", OBJECT_NAME,
                        "The object's name for a raw upload (required then), or for the single "
                        "file of a form upload.")
    item_versions = _array(_schema("Identifier"))
    paging = [_p("after"), _p("limit")]
    return {
        "/health": {"get": _operation(
            "health", "Service", "Is this server ready?",
            "Asks the database a trivial question and checks the blob store, each within a "
            "few seconds. Needs no key; tells nothing but whether both answer.",
            _ok("Both answer.", _schema("Health")), ("400",), public=True,
            other={"503": {"description": "One or both did not (the reason is in the server "
                                         "log).",
                           "headers": RETRY_AFTER,
                           "content": _json(_schema("Health"))}})},
        "/openapi.json": {"get": _operation(
            "openapi", "Service", "This document",
            "The OpenAPI 3.1 description of the API. Needs no key.",
            _ok("The document.", {"type": "object", "required": ["openapi", "paths"]}),
            ("400",), public=True)},
        "/docs": {"get": _operation(
            "docs", "Service", "The API reference, as HTML",
            "This document rendered as one HTML page, with no asset from elsewhere. Needs no "
            "key.",
            {"description": "The reference.",
             "content": {"text/html": {"schema": {"type": "string"}}}},
            ("400",), public=True)},
        "/me": {"get": _operation(
            "me", "Service", "Who the key belongs to",
            "The name of the user whose key the request carries, and whether they are an "
            "instance admin.",
            _ok("The user.", _obj({"user": USERNAME, "admin": {"type": "boolean"}})),
            ("400", "401", "503"))},
        "/users": {
            "get": _operation(
                "listUsers", "Users", "List users",
                "Every user, deleted ones included (with when), by name. Instance admins only "
                "(403).",
                _ok("The users.", _array(_schema("User"))), ("400", "401", "403", "503")),
            "post": _operation(
                "createUser", "Users", "Create a user",
                "Instance admins only (403). The key is in this answer only (it is stored as its "
                "sha256). A name taken, by a deleted user too: 409.",
                _ok("Created.", _obj({"name": USERNAME, "admin": {"type": "boolean"},
                                      "key": {"type": "string"}})),
                ("400", "401", "403", "409", "503", "507", *JSON_BODY_ERRORS),
                body=_json_body(_obj({"name": USERNAME, "admin": {"type": "boolean"}},
                                     required=["name"], additional=True),
                                "The name; `admin` (default false) makes an instance admin.",
                                {"name": "carol", "admin": False})),
        },
        "/users/{name}/key": {"post": _operation(
            "newUserKey", "Users", "Give a user a new key",
            "The old key stops working at once. A user may rekey themselves; anyone else's key "
            "takes an instance admin (403). Unknown user: 404; a deleted one: 409.",
            _ok("The new key, shown once.", _obj({"name": USERNAME, "key": {"type": "string"}})),
            ("400", "401", "403", "404", "409", "503", "507"), [_p("user_name")])},
        "/users/{name}": {"delete": _operation(
            "deleteUser", "Users", "Delete a user",
            "Instance admins only (403). Their key stops working at once; their name stays in "
            "the logs and is never given again. Unknown: 404; already deleted, or oneself: 409.",
            _ok("Deleted.", _obj({"name": USERNAME, "deleted": TIMESTAMP})),
            ("400", "401", "403", "404", "409", "503", "507"), [_p("user_name")])},
        "/datasets": {
            "post": _operation(
                "createDataset", "Datasets", "Create a dataset",
                "Also records an `OwnerAddEvent` making the caller its first owner.",
                _ok("Created.", _obj({"dataset": DATASET_NAME})),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS),
                body=_json_body(_obj({"name": DATASET_NAME}, additional=True), "The name.",
                                {"name": "birds"}),
                links=dataset_links),
            "get": _operation("listDatasets", "Datasets", "List datasets", "Names, sorted.",
                              _ok("The names.", _array(DATASET_NAME)), ("400", "401", "503")),
        },
        f"{D}/schemas": {
            "post": _operation(
                "createSchema", "Schemas", "Create a schema",
                "A UTF-8 JSON document, valid JSON Schema in the dialect its `$schema` names "
                "(draft-04 to 2020-12; absent means 2020-12), `$ref`s inside itself, patterns "
                "that run in linear time (else 422). Pending until an owner reviews it.",
                _ok("Created.", _schema("SchemaInfo")),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS, "422"), [_p("dataset")],
                body=_json_body(_obj({"name": SCHEMA_NAME, "schema": BASE64}, additional=True),
                                "The name and the base64 JSON Schema.",
                                {"name": "schema-label", "schema": _b64(LABEL_SCHEMA)}),
                links=schema_links),
            "get": _operation(
                "listSchemas", "Schemas", "List schemas",
                "In creation order; `?name=` (exact) or `?prefix=` filter on the name.",
                _ok("The schemas.", _array(_schema("SchemaInfo"))), READ_ERRORS,
                [_p("dataset"),
                 _param("name", "query", SCHEMA_NAME, "Only the schema of this name."),
                 _param("prefix", "query", PREFIX, "Only schemas whose name starts with this."),
                 _p("as_of")]),
        },
        f"{D}/schemas/{{segment}}": {
            "get": _operation(
                "schemaInfoOrStatus", "Schemas", "A schema's info, or a status list",
                "A segment starting with `schema-` is a schema name: its info. Any other is a "
                "status word: `[{uuid, name, version}]` of the versions with that status "
                "(400 with `valid_statuses` for an unknown word).",
                _ok("The info, or the status list.",
                    {"anyOf": [_schema("SchemaInfo"), _array(_schema("SchemaVersionEntry"))]}),
                READ_ERRORS, [_p("dataset"), schemas_segment, _p("as_of")]),
            "patch": _operation(
                "updateSchema", "Schemas", "A new version of a schema",
                "Checked as a create; the bytes must change (409). A status word: 405.",
                _ok("Updated.", _schema("SchemaInfo")),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS, "405", "422"),
                [_p("dataset"), schemas_segment],
                body=_json_body(_obj({"schema": BASE64}, additional=True),
                                "The base64 JSON Schema.",
                                {"schema": _b64(LABEL_SCHEMA.replace(b'"label"]',
                                                                     b'"label"], "title": '
                                                                     b'"a label"'))})),
        },
        f"{D}/schemas/{{schema_name}}/{{version}}": {
            "get": _operation(
                "loadSchema", "Schemas", "Load a schema version",
                "Metadata, base64 bytes and the events that touched it.",
                _ok("The version.", _schema("SchemaLoad")), READ_ERRORS,
                [_p("dataset"), _p("schema_name"), _p("version"), _p("as_of"), _p("bytes")]),
            "delete": _operation(
                "deprecateSchema", "Schemas", "Propose deprecating a schema version",
                "Pending until an owner reviews it.",
                _ok("Proposed.", _obj({"uuid": UUID, "version": VERSION,
                                       "name": SCHEMA_NAME})),
                WRITE_ERRORS, [_p("dataset"), _p("schema_name"), _p("version")]),
        },
        f"{D}/schemas/{{schema_name}}/{{version}}/bytes": {"get": _download(
            "schemaBytes", "Schemas", "Download a schema version",
            "The schema document (`application/schema+json`, saved as `<name>.json`)",
            {"application/schema+json": {"schema": {
                "type": ["object", "boolean"], "description": "A JSON Schema document."}}},
            [_p("schema_name"), _p("version")])},
        f"{D}/objects": {
            "post": _operation(
                "createObject", "Objects", "Create objects",
                "Pending until an owner reviews it. The same bytes may not be in two live "
                "objects of a dataset (409 with `existing`).",
                _ok("Created: `{uuid, version}`, or for a form upload `{objects: [...]}` in the "
                    "order of the parts.",
                    {"anyOf": [_schema("Identifier"),
                               _obj({"objects": _array(_schema("CreatedObject"))})]}),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS), [_p("dataset"), name_query],
                body=object_body, links=object_links),
            "get": _operation(
                "listObjects", "Objects", "List objects",
                "In creation order, with the newest version's name; `?name=` (exact) or "
                "`?prefix=` filter on it. With `?hash=<sha256>` instead: the live versions "
                "holding those bytes, `[{uuid, version}]` (not paged).",
                _ok("The objects.", {"anyOf": [_array(_schema("ObjectListEntry")),
                                               item_versions]}),
                READ_ERRORS,
                [_p("dataset"), *paging,
                 _param("name", "query", OBJECT_NAME, "Only objects whose newest name is this."),
                 _param("prefix", "query", PREFIX, "Only objects whose newest name starts with "
                                                   "this."),
                 _param("hash", "query", SHA256, "Only the live versions holding these bytes "
                                                 "(not paged; with none of `name`, `prefix`, "
                                                 "`after` and `limit`: 400)."),
                 _p("as_of")],
                links={"FirstThumbnail": _link(
                    "objectThumbnail", "A thumbnail of the first object listed (version 0).",
                    object_uuid="$response.body#/0/uuid", version="0")}),
        },
        f"{D}/objects/{{segment}}": {
            "get": _operation(
                "objectInfoOrStatus", "Objects", "An object's info, or a status list",
                "A UUID (any case) is an object: `{uuid, versions}`. Anything else is a status "
                "word: one page of `[{uuid, version}]`, one entry per version (400 with "
                "`valid_statuses` for an unknown word).",
                _ok("The info, or the status list.", {"anyOf": [_schema("ItemInfo"),
                                                                 item_versions]}),
                READ_ERRORS, [_p("dataset"), objects_segment, *paging, _p("as_of")]),
            "patch": _operation(
                "updateObject", "Objects", "A new version of an object",
                "The same three forms as a create (a form upload takes exactly one file). "
                "Annotations are not carried over. A status word: 405.",
                _ok("Updated.", _schema("Identifier")),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS, "405"),
                [_p("dataset"), objects_segment, name_query], body=object_body,
                links={"LoadObject": _link("loadObject", "Load the new version.",
                                           object_uuid="$response.body#/uuid",
                                           version="$response.body#/version")}),
        },
        f"{D}/objects/{{object_uuid}}/{{version}}": {
            "get": _operation(
                "loadObject", "Objects", "Load an object version",
                "Metadata, base64 bytes, events and the annotations attached to it. "
                "`?bytes=false`, or a version past the JSON limit: `bytes` null and "
                "`bytes_url`.",
                _ok("The version.", _schema("ObjectLoad")), READ_ERRORS,
                [_p("dataset"), _p("object_uuid"), _p("version"), _p("as_of"), _p("bytes")]),
            "delete": _operation(
                "deleteObject", "Objects", "Propose deleting an object version",
                "Pending until an owner reviews it (409 if rejected, deleted, or its deletion "
                "is pending).",
                _ok("Proposed.", _schema("Identifier")), WRITE_ERRORS,
                [_p("dataset"), _p("object_uuid"), _p("version")]),
        },
        f"{D}/objects/{{object_uuid}}/{{version}}/bytes": {"get": _download(
            "objectBytes", "Objects", "Download an object version",
            "The object's bytes, named after the last component of its name, with its "
            "mimetype as `Content-Type` (`application/octet-stream` when that is no media "
            "type: a JSON create keeps any mimetype it is given)",
            # no schema: the object's bytes, of any type, whatever its mimetype claims (an
            # object stored as application/json need not hold JSON)
            {"*/*": {}},
            [_p("object_uuid"), _p("version")])},
        f"{D}/objects/{{object_uuid}}/{{version}}/thumbnail": {"get": _thumbnail()},
        f"{D}/annotations": {
            "post": _operation(
                "createAnnotation", "Annotations", "Create an annotation",
                "Validated against the schema version (422 with `details`); attached to 1 to "
                "1000 distinct live object versions. Pending until an owner reviews it.",
                _ok("Created.", _schema("Identifier")),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS, "422"), [_p("dataset")],
                body=_json_body(_obj({
                    "schema": _obj({"name": SCHEMA_NAME, "version": VERSION}, additional=True),
                    "object_identifiers": {**_array(_obj({"uuid": UUID_ANY_CASE,
                                                          "version": VERSION},
                                                         additional=True)),
                                           "minItems": 1, "maxItems": 1000},
                    "annotation": BASE64}, additional=True),
                    "The schema version, the object versions and the base64 JSON document."),
                links=annotation_links),
            "get": _operation(
                "listAnnotations", "Annotations", "List annotations",
                "In creation order, with the newest version's schema; `?schema=` keeps those "
                "whose newest version uses a schema of that name.",
                _ok("The annotations.", _array(_schema("AnnotationListEntry"))), READ_ERRORS,
                [_p("dataset"), *paging,
                 _param("schema", "query", SCHEMA_NAME, "Only annotations of this schema."),
                 _p("as_of")]),
        },
        f"{D}/annotations/{{segment}}": {
            "get": _operation(
                "annotationInfoOrStatus", "Annotations",
                "An annotation's info, or a status list",
                "A UUID (any case) is an annotation: `{uuid, versions}`. Anything else is a "
                "status word: one page of `[{uuid, version}]`.",
                _ok("The info, or the status list.", {"anyOf": [_schema("ItemInfo"),
                                                                 item_versions]}),
                READ_ERRORS, [_p("dataset"), annotations_segment, *paging, _p("as_of")]),
            "patch": _operation(
                "updateAnnotation", "Annotations", "A new version of an annotation",
                "Validated as a create; keeps the object links. A status word: 405.",
                _ok("Updated.", _schema("Identifier")),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS, "405", "422"),
                [_p("dataset"), annotations_segment],
                body=_json_body(_obj({
                    "schema": _obj({"name": SCHEMA_NAME, "version": VERSION}, additional=True),
                    "annotation": BASE64}, additional=True),
                    "The schema version and the base64 JSON document.")),
        },
        f"{D}/annotations/{{annotation_uuid}}/{{version}}": {
            "get": _operation(
                "loadAnnotation", "Annotations", "Load an annotation version",
                "Metadata, base64 bytes, events and the object versions it is attached to.",
                _ok("The version.", _schema("AnnotationLoad")), READ_ERRORS,
                [_p("dataset"), _p("annotation_uuid"), _p("version"), _p("as_of"),
                 _p("bytes")]),
            "delete": _operation(
                "deleteAnnotation", "Annotations", "Propose deleting an annotation version",
                "Pending until an owner reviews it.",
                _ok("Proposed.", _schema("Identifier")), WRITE_ERRORS,
                [_p("dataset"), _p("annotation_uuid"), _p("version")]),
        },
        f"{D}/annotations/{{annotation_uuid}}/{{version}}/bytes": {"get": _download(
            "annotationBytes", "Annotations", "Download an annotation version",
            "The annotation's JSON document (`application/json`, saved as `<uuid>.json`)",
            _json({"description": "The annotation's document: any JSON value."}),
            [_p("annotation_uuid"), _p("version")])},
        D: {
            "get": _operation(
                "getDataset", "Members", "A dataset's settings, and what you may do",
                "`access`: what the caller may do: `owner`, `reviewer`, `annotator` or `viewer`. "
                "A private dataset is 404 for who is neither an owner nor a member.",
                _ok("The settings.", _schema("DatasetInfo")), READ_ERRORS, [_p("dataset")]),
            "patch": _operation(
                "changeDatasetSettings", "Members", "Change a dataset's settings",
                "Owners only (403). Records a `DatasetSettingsEvent` holding every setting as "
                "it is after the change; the same settings again: 409.",
                _ok("The settings.", _obj({"dataset": DATASET_NAME,
                                           "visibility": {"enum": ["internal", "private"]},
                                           "require_other_reviewer": {"type": "boolean"}})),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS, "403"), [_p("dataset")],
                body=_json_body(_obj({"visibility": {"enum": ["internal", "private"]},
                                      "require_other_reviewer": {"type": "boolean"}},
                                     required=[]),
                                "The settings to change.", {"visibility": "private"})),
        },
        f"{D}/members": {"get": _operation(
            "listMembers", "Members", "List members",
            "The dataset's members and their roles, by name (owners: `GET .../owners`).",
            _ok("The members.", _array(_obj({"user": USERNAME, "role": ROLE}))), READ_ERRORS,
            [_p("dataset")])},
        f"{D}/members/{{user}}": {
            "put": _operation(
                "setMember", "Members", "Give a user a role",
                "Owners only (403); records a `MemberSetEvent`. Unknown user: 404; an owner, or "
                "the role they have: 409.",
                _ok("Done.", _obj({"user": USERNAME, "role": ROLE})),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS, "403"),
                [_p("dataset"), _param("user", "path", USERNAME, "The username.",
                                       example="carol")],
                body=_json_body(_obj({"role": ROLE}, additional=True), "The role.",
                                {"role": "annotator"})),
            "delete": _operation(
                "removeMember", "Members", "Remove a member",
                "Owners only (403); records a `MemberRemoveEvent`. Not a member: 404.",
                _ok("Done.", _obj({"user": USERNAME})), (*WRITE_ERRORS, "403"),
                [_p("dataset"), _param("user", "path", USERNAME, "The username.",
                                       example="carol")]),
        },
        f"{D}/queue/claim": {"post": _operation(
            "claimWork", "Queue", "Claim one task",
            "`annotate` (annotators, reviewers, owners) leases the next object version to "
            "annotate against `schema`: highest priority, then oldest, with no live annotation "
            "of that schema, not leased, assigned to nobody or to you. `review` (reviewers, "
            "owners) leases the next pending change you may decide. `{\"lease\": null}` when "
            "nothing is left.",
            _ok("The lease and its item.", _schema("Claim")),
            (*WRITE_ERRORS, *JSON_BODY_ERRORS), [_p("dataset")],
            body=_json_body(_obj({"task": {"enum": ["annotate", "review"]},
                                  "schema": SCHEMA_NAME, "ttl": TTL},
                                 required=["task"], additional=True),
                            "The task; `ttl` in seconds (default 300, at most 3600).",
                            {"task": "annotate", "schema": "schema-label"}))},
        f"{D}/queue/leases/{{lease_id}}": {
            "put": _operation(
                "extendLease", "Queue", "Extend a lease",
                "Its holder only (403); it now ends `ttl` seconds from now. An ended or expired "
                "lease: 404.",
                _ok("The lease.", _obj({"lease": _schema("Lease")})),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS), [_p("dataset"), _p("lease_id")]),
            "delete": _operation(
                "giveBackLease", "Queue", "Give a lease back",
                "Its holder only (403); its task is claimable again at once.",
                _ok("Given back.", _obj({"lease": UUID})), WRITE_ERRORS,
                [_p("dataset"), _p("lease_id")]),
        },
        f"{D}/queue": {"get": _operation(
            "queueReport", "Queue", "What is left, leased and awaiting review",
            "With `?schema=`, the objects left to annotate against it and those leased; the "
            "changes awaiting review and those leased; per user, changes proposed, accepted "
            "and rejected.",
            _ok("The report.", {"type": "object"}), READ_ERRORS,
            [_p("dataset"), _param("schema", "query", SCHEMA_NAME, "A schema's name.")])},
        **{f"{D}/objects/{{object_uuid}}/{what}": {"put": _operation(
            f"setObject{what.capitalize()}", "Queue", f"Set an object's {what}",
            "Reviewers and owners (403). " + (
                "Higher is claimed first; the default is 0." if what == "priority" else
                "Only that user claims it; `null` for anyone."),
            _ok("The object's place in the queue.",
                _obj({"uuid": UUID, "priority": {"type": "number"},
                      "assignee": {"anyOf": [USERNAME, {"type": "null"}]}})),
            (*WRITE_ERRORS, *JSON_BODY_ERRORS), [_p("dataset"), _p("object_uuid")],
            body=_json_body(_obj({"priority": {"type": "number"}} if what == "priority" else
                                 {"user": {"anyOf": [USERNAME, {"type": "null"}]}},
                                 additional=True), f"The {what}.",
                            {"priority": 10} if what == "priority" else {"user": "carol"}))}
           for what in ("priority", "assignee")},
        f"{D}/owners": {"get": _operation(
            "listOwners", "Owners", "List owners", "Highest rank (earliest added) first.",
            _ok("The owners.", _array(USERNAME)), READ_ERRORS, [_p("dataset")],
            links=owner_links)},
        f"{D}/owners/{{user}}": {
            method: _operation(
                f"{verb}Owner", "Owners", f"{verb.capitalize()} an owner",
                "Owners only (403). " + ("Unknown user: 404; already an owner: 409."
                                         if verb == "add" else
                                         "Only owners of equal or lower rank; never the last "
                                         "owner (409)."),
                _ok("Done.", _obj({"user": USERNAME})), (*WRITE_ERRORS, "403"),
                [_p("dataset"), _param("user", "path", USERNAME, "The username.",
                                       example="alice")])
            for method, verb in (("put", "add"), ("delete", "remove"))},
        f"{D}/events": {"get": _operation(
            "listEvents", "Events", "The event log",
            "Full events in log order, exactly as hashed plus `integrity`. `?pending=true`: "
            "the content events still awaiting review.",
            _ok("The events.", _array(_schema("Event"))), READ_ERRORS,
            [_p("dataset"), *paging,
             _param("pending", "query", {"enum": ["true", "false"], "default": "false"},
                    "`true`: only events awaiting review."),
             _p("as_of")], links=event_links)},
        **{f"{D}/events/{{event_uuid}}/{word}": {"put": _operation(
            f"{word}Event", "Events", f"{word.capitalize()} an event",
            "Owners and reviewers only (403; where the dataset requires another reviewer, "
            "nobody accepts their own change). Each content event is reviewed once (409); owner "
            f"and review events cannot be (400). Records a `Review{word.capitalize()}Event`.",
            _ok("Reviewed.", _obj({"uuid": UUID})), (*WRITE_ERRORS, "403"),
            [_p("dataset"), _param("event_uuid", "path", UUID_ANY_CASE, "The event's uuid.")])}
           for word in ("accept", "reject")},
        f"{D}/releases": {
            "post": _operation(
                "createRelease", "Releases", "Name a point of the log",
                "Owners only (403). A release never changes and is never deleted.",
                _ok("The release.", _schema("Release")),
                (*WRITE_ERRORS, *JSON_BODY_ERRORS, "403"), [_p("dataset")],
                body=_json_body(_obj({
                    "name": RELEASE_NAME,
                    "description": {"type": ["string", "null"], "maxLength": 10_000},
                    "at": {"anyOf": [UUID_ANY_CASE, {"type": "null"}],
                           "description": "An event uuid (default: the latest event)."}},
                    required=["name"], additional=True), "The release.",
                    {"name": "v1.0", "description": "first training set"}),
                links=release_links),
            "get": _operation(
                "listReleases", "Releases", "List releases",
                "In creation order, paged by name (`after` is a release name).",
                _ok("The releases.", _array(_schema("Release"))), READ_ERRORS,
                [_p("dataset"), _param("after", "query", RELEASE_NAME,
                                       "The name of the last release received."),
                 _p("limit")]),
        },
        f"{D}/releases/{{release}}": {"get": _operation(
            "getRelease", "Releases", "A release", "",
            _ok("The release.", _schema("Release")), READ_ERRORS,
            [_p("dataset"), _p("release")])},
        f"{D}/releases/{{release}}/manifest": {"get": _operation(
            "releaseManifest", "Releases", "A release's manifest",
            "JSON Lines, streamed: one RFC 8785 line per version in the release's content "
            "(schemas, objects, annotations). Its sha256 is the release's `manifest_sha256` "
            "and the `ETag`.",
            {"description": "The manifest.",
             "content": {"application/jsonl": {"schema": {"type": "string"}}},
             "headers": {"ETag": {"required": True,
                                  "schema": {"type": "string", "pattern": '^"[0-9a-f]{64}"$'}},
                         "Content-Disposition": {"required": True,
                                                 "schema": {"type": "string"}}}},
            READ_ERRORS, [_p("dataset"), _p("release"), _p("If-None-Match")],
            other={"304": {"description": "`If-None-Match` names the manifest.",
                           "headers": {"ETag": {"required": True,
                                                "schema": {"type": "string"}}}}})},
        f"{D}/releases/{{release}}/export": {"get": _export(
            "exportRelease", "The labels of a release", [_p("release")])},
        f"{D}/export": {"get": _export(
            "exportPoint", "The labels at any point",
            [{**PARAMETERS["as_of"], "required": True}])},
        f"{D}/diff": {"get": _operation(
            "diff", "Releases", "Changes between two points",
            "One entry per item whose content differs, by kind then creation order. "
            "`Gonk-Diff-To` names the `to` point: pass it as `to` on the next pages.",
            _ok("The changes.", _array(_schema("DiffEntry")),
                headers={"Gonk-Diff-To": {"required": True, "schema": UUID}}),
            READ_ERRORS,
            [_p("dataset"),
             _param("from", "query", POINT,
                    "A point (default: the empty dataset)."),
             _param("to", "query", POINT,
                    "A point (default: the latest event)."),
             *paging])},
        "/log-key": {"get": _operation(
            "logKey", "Verifiable log", "The log's verifier key",
            "The installation's Ed25519 verifier key in the C2SP signed-note format "
            "(`name+keyid+base64`), one line: it checks every dataset's checkpoints. Needs no "
            "key. Pin it from a source you trust (`gonk-api log-key` on the server), not only "
            "from here.",
            {"description": "The verifier key.",
             "content": {"text/plain": {"schema": {"type": "string"}}}},
            ("400",), public=True)},
        f"{D}/checkpoint": {"get": _operation(
            "datasetCheckpoint", "Verifiable log", "The dataset's signed checkpoint",
            "A C2SP tlog-checkpoint signed note: the origin (`<installation origin>/datasets/"
            "<name>`), the tree size (the number of events) and the base64 RFC 9162 Merkle root "
            "of the events, then a blank line and the installation key's signature line.",
            {"description": "The checkpoint.",
             "content": {"text/plain": {"schema": {"type": "string"}}}},
            READ_ERRORS, [_p("dataset")])},
        f"{D}/proofs/inclusion": {"get": _operation(
            "inclusionProof", "Verifiable log", "Proof that an event is in the log",
            "RFC 9162 inclusion proof of the event's leaf (SHA-256 of 0x00 and the event's RFC "
            "8785 bytes as the events list serves it, integrity included) in the tree of `size` "
            "events. 400 for a size of 0 or beyond the log, or one the event is not in.",
            _ok("The proof.", _schema("InclusionProof")), READ_ERRORS,
            [_p("dataset"),
             _param("event", "query", UUID_ANY_CASE, "The event's uuid.", required=True),
             _param("size", "query", {"type": "integer", "minimum": 1},
                    "The tree size (default: every event).")])},
        f"{D}/proofs/consistency": {"get": _operation(
            "consistencyProof", "Verifiable log", "Proof that the log only grew",
            "RFC 9162 consistency proof between the trees of the first `from` and `to` events: "
            "the older tree is a prefix of the newer. 400 for a size of 0, beyond the log, or "
            "`from` greater than `to`.",
            _ok("The proof.", _schema("ConsistencyProof")), READ_ERRORS,
            [_p("dataset"),
             _param("from", "query", {"type": "integer", "minimum": 1},
                    "The older tree size.", required=True),
             _param("to", "query", {"type": "integer", "minimum": 1},
                    "The newer tree size (default: every event).")])},
        f"{D}/stats": {"get": _operation(
            "datasetStats", "Datasets", "Counts of what a dataset holds",
            "Items by status, the content's bytes, annotated objects and label counts, now or "
            "`?as_of=` a point.",
            _ok("The statistics.", _schema("Stats")), READ_ERRORS,
            [_p("dataset"), _p("as_of")])},
    }


THUMBNAIL_ETAG = {"required": True,
                  "description": "A strong validator: the source's sha256, the size and the "
                                 "thumbnail format's version.",
                  "schema": {"type": "string", "pattern": '^"thumb[0-9]+-[0-9]+-[0-9a-f]{64}"$'}}


def _thumbnail() -> dict[str, Any]:
    image = {"type": "string", "contentMediaType": "image/*"}
    return _operation(
        "objectThumbnail", "Objects", "A thumbnail of an image object",
        "The first frame of a JPEG, PNG, WebP, GIF, TIFF or BMP object, turned as its EXIF "
        "orientation says, its longest side `size` pixels (never enlarged): JPEG, or PNG when "
        "it has transparency. Made once per content and size, then served from the server's "
        "cache; a strong `ETag` (`If-None-Match`: 304) and `Cache-Control` that lets a browser "
        "keep it. Takes `?as_of=`.",
        {"description": "The thumbnail.",
         "content": {"image/jpeg": {"schema": image}, "image/png": {"schema": image}},
         "headers": {"ETag": THUMBNAIL_ETAG,
                     "Cache-Control": {"required": True, "schema": {"type": "string"}}}},
        (*READ_ERRORS, "501"),
        [_p("dataset"), _p("object_uuid"), _p("version"),
         _param("size", "query", {"type": "integer", "minimum": thumbnails.MIN_SIZE,
                                  "maximum": thumbnails.MAX_SIZE,
                                  "default": thumbnails.DEFAULT_SIZE},
                "The longest side in pixels (anything else: 400).", example=128),
         _p("as_of"), _p("If-None-Match")],
        other={"304": {"description": "The client's copy is current (`If-None-Match`).",
                       "headers": {"ETag": THUMBNAIL_ETAG}},
               "413": _error("An image of more pixels than the server makes thumbnails of "
                             "(`GONK_THUMBNAIL_MAX_PIXELS`, by its header; never decoded)."),
               "415": _error("Not an image of those formats, or a corrupt one.")})


def _export(operation_id: str, summary: str, parameters: list[Any]) -> dict[str, Any]:
    return _operation(
        operation_id, "Releases", summary,
        "A zip archive of the labels in the format asked for, with the object files when "
        "`files=true`, and `export-report.json`; streamed.",
        {"description": "The archive.",
         "content": {"application/zip": {"schema": {"type": "string",
                                                    "contentMediaType": "application/zip"}}},
         "headers": {"Content-Disposition": {"required": True, "schema": {
             "type": "string", "pattern": '^attachment; filename="'}}}},
        (*READ_ERRORS, "501"),
        [_p("dataset"), *parameters,
         _param("format", "query", {"enum": EXPORT_FORMATS}, "The label format.",
                required=True),
         _param("files", "query", {"enum": ["true", "false"], "default": "false"},
                "`true`: put the object files in the archive.")])


@functools.cache
def _document() -> dict[str, Any]:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Gonk API",
            "version": gonk_version,
            "summary": "Versioned, annotated datasets with a hash-chained, reviewed event log.",
            "description": (
                "Every endpoint but `/health`, `/openapi.json` and `/docs` needs the caller's "
                "key, as `x-api-key: <key>` or `Authorization: Bearer <key>` (401 otherwise). "
                "Request bodies are JSON unless said otherwise; binary content travels as "
                "standard base64 inside JSON, or as raw bytes and form uploads for objects. "
                "Success is 200. Errors are JSON `{\"error\": ...}` (see the Error schema). "
                "Every route also answers `OPTIONS` (200, `{\"allow\": [...]}`, no key) and "
                "`HEAD` for `GET`; any other method is 405 with `Allow`. A path no route has "
                "is 404, never a redirect."),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "security": [{"apiKey": []}, {"bearer": []}],
        "tags": [{"name": n, "description": d} for n, d in (
            ("Service", "Health, this description, and who the caller is."),
            ("Users", "The server's users and their keys, managed by instance admins."),
            ("Datasets", "Datasets and their statistics."),
            ("Schemas", "JSON Schema documents, versioned, named `schema-...`."),
            ("Objects", "Files of any type, versioned."),
            ("Annotations", "JSON documents validated against a schema version, attached to "
                            "object versions."),
            ("Members", "A dataset's settings (visibility, four eyes) and its members' roles."),
            ("Owners", "Who reviews and manages owners."),
            ("Queue", "Handing out work: claims, leases, priorities and assignees."),
            ("Events", "The append-only, hash-chained log, and reviews."),
            ("Releases", "Named points of the log, manifests, diffs and label exports."),
            ("Verifiable log", "Signed checkpoints and Merkle proofs (RFC 9162) that the log "
                               "holds an event and only ever grew."))],
        "paths": _paths(),
        "components": {"schemas": SCHEMAS, "parameters": PARAMETERS, "responses": RESPONSES,
                       "securitySchemes": SECURITY_SCHEMES},
    }


def document(server_url: str | None = None) -> dict[str, Any]:
    """The document (a fresh copy), with `servers` set to `server_url` when given (the
    application's root as the client reached it)."""
    doc = copy.deepcopy(_document())
    if server_url is not None:
        doc["servers"] = [{"url": server_url}]
    return doc
