"""Objects. Under /objects/, a UUID (any case) is an identifier; anything else is a status word."""

from __future__ import annotations

import functools
from collections.abc import Generator, Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from .. import queries, service
from ..domain import rules, validation
from ..domain.errors import GonkError, Invalid, UnsupportedMediaType
from ..storage.blobs import CHUNK, StoredBlob
from . import context, downloads, items, json_stream, parsing, uploads

bp = Blueprint("objects", __name__, url_prefix="/datasets/<dataset>/objects")


def _streamed() -> bool:
    """A body that is not JSON is the object's raw bytes (beyond the seed, for large files);
    so is any body sent with ?name=, which is how a JSON file is uploaded as raw bytes."""
    return request.mimetype != "application/json" or "name" in request.args


def _content(dataset: str) -> tuple[str, str, bytes | StoredBlob]:
    """Name, mimetype and bytes of an object create or update, from either form of request:
    JSON {"name", "mimetype", "object": base64} (read as it streams in: _JsonBody), or the raw
    bytes streamed as the body with `?name=` and the Content-Type as the mimetype (guessed from
    the bytes and the name when the Content-Type says nothing about them: none,
    application/octet-stream, or the application/x-www-form-urlencoded that
    `curl --data-binary` sends)."""
    if not _streamed():
        return _JsonBody(dataset).read()
    if not request.content_type and "name" not in request.args:
        raise UnsupportedMediaType(
            "Send JSON with Content-Type: application/json, the raw bytes with ?name= (and the "
            "object's own Content-Type), or files as multipart/form-data.")
    if "name" not in request.args:
        raise Invalid("A raw upload needs the object's name as the query parameter ?name=.")
    name = validation.object_name(request.args["name"])
    limit = uploads.stream_limit()
    mimetype, blob = uploads.stored_with_type(dataset, name, request.content_type,
                                              uploads.body_chunks(), limit)
    return name, mimetype, blob


# --- JSON bodies, read as they stream in ---------------------------------------------------------

OBJECT_FIELD = "object"
NOT_AN_OBJECT = "The request body must be a JSON object."  # parsing.json_body's refusal
IN_MEMORY_BYTES = CHUNK  # an object's bytes up to this size stay in memory (see _JsonBody)
MAX_OUTSIDE_OBJECT = 1024**2
"""Characters of a JSON object body besides the object's base64 (name, mimetype, anything
else): 400 beyond. Checking them costs up to fifty times what base64 does per character, so
without a bound a 64 MiB body of nested arrays would hold a thread for a minute."""


class _Abandoned(Exception):
    """Raised into the blob store's put_stream to make it drop what it has stored: the bytes
    being streamed are refused already (bad base64, a second "object")."""


class _JsonBody:
    """An object create or update in JSON, read from the request stream as it arrives
    (json_stream.ObjectScanner), never held whole: read whole, it took 3.75 times the body
    (issue 11); read so, about 4.5 MiB whatever its size (bench/json_memory.py).

    The "object" member's base64 is decoded as it streams in. Bytes of at most IN_MEMORY_BYTES
    stay in memory and are stored by the service as before (one write, and no blob at all for
    a refused body); past that, they go into the blob store while the body is still being read
    (service.store_stream). That stream ends only once the whole body has been read and
    checked, so a body refused for anything (invalid JSON after the member, a bad name after
    it) is refused before its blob is complete, and the store drops it: a refused body never
    leaves a blob behind, only requests the rules refuse later do (as raw uploads do; `gonk-api
    gc` removes those).

    Refusals are those of the whole-body parse (parsing.json_body, string_field, base64_field),
    in its order: not a JSON object (anything the parse refused, invalid JSON after the bytes
    and trailing garbage included), then the name, then the mimetype, then "object". So a store
    that refuses first (an unknown dataset: 404; storage down or full: 503, 507) is answered
    only after the rest of the body has been read and found valid; and the body is always read
    to its end before a refusal, as request.get_json read it before looking, so a chunked body
    past MAX_CONTENT_LENGTH is 413 whatever else is wrong with it. Errors reading the body
    itself (a client gone, broken chunked framing) propagate as they are.

    Duplicate keys: the last "name" and "mimetype" count, as json.loads had it; a second
    "object" is refused (400), its first value having gone on to the store already."""

    def __init__(self, dataset: str) -> None:
        self._dataset = dataset
        self._scanner = json_stream.ObjectScanner(OBJECT_FIELD, ("name", "mimetype"))
        self._texts = json_stream.DecodedText(_body_chunks())
        self._raised: Exception | None = None  # what _chunks raised into the store
        self._checked: tuple[str, str] | None = None  # name and mimetype, once checked

    def read(self) -> tuple[str, str, bytes | StoredBlob]:
        try:
            return self._read()
        except json_stream.JSONInvalid:
            _drain()
            raise Invalid(NOT_AN_OBJECT) from None

    def _read(self) -> tuple[str, str, bytes | StoredBlob]:
        scanner = self._scanner
        held: list[bytes] = []
        size = 0
        for text in self._texts:
            data = scanner.feed(text)
            del text
            _check_outside(scanner)
            if scanner.decoding and data:
                held.append(data)
                size += len(data)
                if size > IN_MEMORY_BYTES:
                    del data
                    return self._stream(held)
        scanner.end()
        name, mimetype = self._fields()
        return name, mimetype, b"".join(held)

    def _stream(self, held: list[bytes]) -> tuple[str, str, StoredBlob]:
        """Store the bytes decoded so far and the rest as it is read; see the class."""
        chunks = self._chunks(held)
        try:
            blob = service.store_stream(context.installation(), self._dataset, chunks, None,
                                        reader=context.user())
        except Exception as exc:
            chunks.close()
            raised = self._raised
            if raised is not None and not isinstance(raised, _Abandoned):
                raise raised from None  # the body's own refusal, or an error reading it
            if raised is None and not isinstance(exc, GonkError):
                raise
            # The bytes were refused, or the store refused (an unknown dataset, storage down
            # or full): read the rest, as the body's own refusals come first.
            for text in self._texts:
                self._scanner.feed(text)
                _check_outside(self._scanner)
            self._scanner.end()
            self._fields()
            if raised is None:
                raise exc from None
            raise AssertionError("the bytes were abandoned, but the body was not refused") \
                from None
        assert self._checked is not None  # set by _chunks once the whole body was read
        return (*self._checked, blob)

    def _chunks(self, held: list[bytes]) -> Generator[bytes, None, None]:
        """The decoded bytes for the store: those `held` (emptied as they go), then the rest
        as the body is read; then, before the last chunk is acknowledged, the end of the body
        and its checks. Whatever is raised here is noted (the store may answer it with an
        error of its own) and raised into the store, which then keeps nothing. (No piece of
        the body or of its bytes stays referenced here once handed on.)"""
        try:
            while held:
                yield held.pop(0)
            for text in self._texts:
                data = self._scanner.feed(text)
                del text
                _check_outside(self._scanner)
                if not self._scanner.decoding:
                    raise _Abandoned
                if data:
                    yield data
                del data
            self._scanner.end()
            self._checked = self._fields()
        except Exception as exc:
            self._raised = exc
            raise

    def _fields(self) -> tuple[str, str]:
        """The name and the mimetype, once the whole body has been read; raises the refusal
        of the body, as the whole-body checks ordered them (the JSON itself has passed)."""
        members = {key: _member_value(value) for key, value in self._scanner.captured.items()}
        name = validation.object_name(parsing.string_field(members, "name"))
        mimetype = validation.mimetype(parsing.string_field(members, "mimetype"))
        target = self._scanner.target
        if target.count > 1:
            raise Invalid(f"The field {OBJECT_FIELD!r} appears more than once in the body; "
                          "send it once.")
        if not (target.count and target.is_string and target.unicode and target.base64):
            # the in-memory check's refusal of a member like it: one wording for both readings
            stand_in: dict[str, Any] = (
                {} if not target.count else {OBJECT_FIELD: None} if not target.is_string
                else {OBJECT_FIELD: "\ud800"} if not target.unicode else {OBJECT_FIELD: "!"})
            parsing.base64_field(stand_in, OBJECT_FIELD)
            raise AssertionError(f"parsing.base64_field took {stand_in!r}")
        return name, mimetype


def _check_outside(scanner: json_stream.ObjectScanner) -> None:
    if scanner.outside_target > MAX_OUTSIDE_OBJECT:
        raise Invalid(f"The JSON body holds more than {MAX_OUTSIDE_OBJECT} characters besides "
                      f"the {OBJECT_FIELD!r} base64; only the object's bytes may be large.")


def _member_value(captured: json_stream.Captured) -> Any:
    """A name's or mimetype's value. One longer than json_stream.MAX_CAPTURE characters of
    JSON was not kept: it stands in as what only its length is known of (a string at least
    MAX_CAPTURE / 12 characters long: an escaped surrogate pair is 12), which the name and
    mimetype checks refuse as too long, or as no string at all."""
    if captured.text is not None:
        return captured.value()
    return "x" * (json_stream.MAX_CAPTURE // 12) if captured.is_string else None


def _body_chunks() -> Iterator[bytes]:
    """The body as it is read, limited to MAX_CONTENT_LENGTH (413 past it). Errors reading it
    propagate as they are. (No generator: it would keep the last chunk while the next is
    read.)"""
    return iter(functools.partial(request.stream.read, CHUNK), b"")


def _drain() -> None:
    """Read the rest of the body and drop it."""
    stream = request.stream
    while stream.read(CHUNK):
        pass


def _query_name() -> str | None:
    """A multipart upload's ?name=, which names its single file in place of the filename."""
    name = request.args.get("name")
    return validation.object_name(name) if name is not None else None


def _create_parts(dataset: str) -> list[dict[str, Any]]:
    """One object per file part of a multipart/form-data body, each its own (pending) create
    event. Every part is read and stored, and every name and content checked, before the first
    event: a refused part creates nothing. Should a create still be refused after earlier ones
    succeeded (only a concurrent writer can cause that), the error lists those in "objects"."""
    parts = uploads.file_parts(dataset, _query_name(), uploads.MAX_FILE_PARTS)
    uploads.check_unique(dataset, parts)
    created: list[dict[str, Any]] = []
    for part in parts:
        try:
            result = service.create_object(context.installation(), dataset, context.user(),
                                           part.name, part.mimetype, part.blob)
        except GonkError as exc:
            if created:
                exc.message += (f" (The file {part.name!r} was not created; the "
                                f"{len(created)} before it were: see 'objects'.)")
                exc.extra["objects"] = created
            raise
        created.append({**result, "name": part.name})
    return created


@bp.post("")
def create_object(dataset: str) -> Response:
    name = context.dataset_name_for_upload(dataset)
    if uploads.is_multipart():
        return jsonify({"objects": _create_parts(name)})
    obj_name, mimetype, data = _content(name)
    return jsonify(service.create_object(context.installation(), name, context.user(), obj_name,
                                         mimetype, data))


@bp.get("")
def list_objects(dataset: str) -> Response:
    """All objects (their newest version's name filtered by ?name= or ?prefix=), or with
    ?hash=<sha256> those holding these bytes in a live version."""
    name = context.dataset(dataset)
    if "hash" in request.args:
        if "name" in request.args or "prefix" in request.args:
            raise Invalid("?hash= cannot be combined with ?name= or ?prefix=.")
        if "after" in request.args or "limit" in request.args:
            # not paged (a handful of live versions at most): refused rather than ignored, as a
            # malformed `limit` once was (found by the fuzz test, tests/fuzz/)
            raise Invalid("?hash= is not paged: it takes no ?after= or ?limit=.")
        digest = request.args["hash"]
        if not validation.is_sha256(digest):
            raise Invalid("'hash' must be a sha256 digest: 64 lowercase hex characters.")
        return jsonify(queries.objects_with_hash(context.installation(), name, digest,
                                                 as_of=parsing.point()))
    after, limit = parsing.after_and_limit()
    exact, prefix = parsing.name_filters(validation.object_name)
    return jsonify(queries.list_items(context.installation(), name, rules.OBJECT, after, limit,
                                      name=exact, prefix=prefix, as_of=parsing.point()))


@bp.get("/<segment>")
def object_info_or_status(dataset: str, segment: str) -> Response:
    return jsonify(items.info_or_status(context.dataset(dataset), rules.OBJECT, segment))


@bp.patch("/<segment>")
def update_object(dataset: str, segment: str) -> Response:
    name = context.dataset_name_for_upload(dataset)
    item_uuid = items.uuid_for_update(segment)
    data: bytes | StoredBlob
    if uploads.is_multipart():  # exactly one file part
        [part] = uploads.file_parts(name, _query_name(), 1)
        obj_name, mimetype, data = part.name, part.mimetype, part.blob
    else:
        obj_name, mimetype, data = _content(name)
    return jsonify(service.update_object(context.installation(), name, context.user(),
                                         item_uuid, obj_name, mimetype, data))


# /<uuid>/priority and /<uuid>/assignee are the work queue's (api/work_queue.py, PUT only):
# this rule's GET and DELETE match them too, and answer 405 for them, as for any path
# without that method
QUEUE_SEGMENTS = ("priority", "assignee")


def _not_a_version(version: str) -> None:
    if version in QUEUE_SEGMENTS:
        raise MethodNotAllowed(valid_methods=["OPTIONS", "PUT"])


@bp.get("/<object_uuid>/<version>")
def load_object(dataset: str, object_uuid: str, version: str) -> Response:
    """The version's metadata, events, annotations and base64 bytes; see downloads.load for
    ?bytes=false and versions past the JSON limit."""
    _not_a_version(version)
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    return downloads.load(name, rules.OBJECT, item, number,
                          f"/datasets/{name}/objects/{item}/{number}/bytes")


@bp.get("/<object_uuid>/<version>/bytes")
def object_bytes(dataset: str, object_uuid: str, version: str) -> Response:
    """The stored bytes, streamed, with the object's mimetype, named as the object is (the last
    component of its name) in Content-Disposition: see downloads.send_version_bytes."""
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    meta = queries.version_metadata(context.installation(), name, rules.OBJECT, item, number,
                                    as_of=parsing.point())
    return downloads.send_version_bytes(meta, meta["format"],
                                        downloads.filename_of(meta["name"], meta["hash"]))


@bp.delete("/<object_uuid>/<version>")
def delete_object(dataset: str, object_uuid: str, version: str) -> Response:
    _not_a_version(version)
    name = context.dataset(dataset)
    item, number = parsing.version_identifier(object_uuid, version, "object")
    return jsonify(service.delete_object(context.installation(), name, context.user(), item,
                                         number))
