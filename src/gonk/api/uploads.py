"""Object uploads streamed as the request body, never held whole in memory: raw bytes (the body
is the object), and multipart/form-data (`curl -F file=@photo.jpg`, browser forms), one object
per file part.

A multipart body is decoded as it is read (werkzeug's sans-IO MultipartDecoder), and each file
part's data goes straight into the blob store (`service.store_stream`) while the next chunks
arrive: no part is spooled to memory or to a temporary file of ours (the S3 store sends it as
a multipart upload, part by part). GONK_MAX_STREAM_BYTES bounds the whole request body.

Mimetypes that say nothing about the content (none, application/octet-stream, and the
application/x-www-form-urlencoded that `curl --data-binary` sends) are guessed from the first
HEAD_BYTES of the content and the name (domain/content_types.py), peeked before the rest is
streamed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from flask import current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Event,
    Field,
    File,
    MultipartDecoder,
    NeedData,
    Preamble,
    State,
)

from .. import queries, service
from ..domain import content_types, validation
from ..domain.errors import Conflict, Invalid
from ..storage.blobs import CHUNK, StoredBlob
from . import context

MULTIPART = "multipart/form-data"
MAX_FILE_PARTS = 1000  # objects one multipart request may create
MAX_PART_HEADER_BYTES = 64 * 1024  # a part's headers (or the preamble) longer than this: broken
MAX_BOUNDARY = 200  # RFC 2046 allows 70 characters; be lenient, but bounded


def is_multipart() -> bool:
    return request.mimetype == MULTIPART


def stream_limit() -> int:
    """GONK_MAX_STREAM_BYTES, made the limit of the request body (413 past it)."""
    limit: int = current_app.config["GONK_MAX_STREAM_BYTES"]
    request.max_content_length = limit
    return limit


def body_chunks() -> Iterator[bytes]:
    """The raw body, chunk by chunk. A body cut short (the client went away before sending the
    Content-Length it announced, or before a chunked body's last chunk) or with broken framing
    raises Invalid, so that store_stream stores nothing: gunicorn hands a truncated body over
    as if it had simply ended."""
    expected, received = request.content_length, 0
    while True:
        try:
            chunk = request.stream.read(CHUNK)
        except HTTPException:  # 413 past the limit
            raise
        except Exception as exc:  # the connection broke, or the chunked framing is malformed
            raise Invalid(f"The upload was cut off or malformed after {received} bytes; "
                          "nothing was stored.") from exc
        if not chunk:
            break
        received += len(chunk)
        yield chunk
    if expected is not None and received != expected:
        raise Invalid(f"The upload ended after {received} of the {expected} bytes its "
                      "Content-Length announced; nothing was stored.")


def peek(chunks: Iterator[bytes],
         size: int = content_types.HEAD_BYTES) -> tuple[bytes, Iterator[bytes]]:
    """The first `size` bytes of a stream (all of it if shorter), and the whole stream again,
    those bytes included: reads only as many chunks as the head needs."""
    taken: list[bytes] = []
    have = 0
    for chunk in chunks:
        taken.append(chunk)
        have += len(chunk)
        if have >= size:
            break
    start = b"".join(taken)
    return start[:size], itertools.chain([start] if start else [], chunks)


def stored_with_type(dataset: str, name: str, mimetype: str | None, chunks: Iterator[bytes],
                     limit: int) -> tuple[str, StoredBlob]:
    """Store a stream; its mimetype is `mimetype` when that says something about the content,
    else guessed from the stream's head and `name`."""
    if content_types.is_given(mimetype):
        checked = validation.mimetype(mimetype)
    else:
        head, chunks = peek(chunks)
        checked = content_types.guess(head, name)
    return checked, service.store_stream(context.installation(), dataset, chunks, limit,
                                         reader=context.user())


# --- multipart/form-data ------------------------------------------------------------------------


@dataclass(frozen=True)
class FilePart:
    """One file of a multipart upload, its bytes stored (not yet referenced by any event)."""

    name: str
    mimetype: str
    blob: StoredBlob


def file_parts(dataset: str, name: str | None, at_most: int) -> list[FilePart]:
    """Read the whole multipart body, storing each file part's bytes as they arrive; return
    the parts in order. `name` (the `?name=` of the request) names the only file part, in
    place of its filename. Nothing is created here: a refused upload (a filename that is not a
    valid object name, a form field that is not a file, no file, more than `at_most` files,
    more than one file with `name`, a malformed or truncated body: 400; past the stream limit:
    413) leaves at most unreferenced blobs, which `gonk-api gc` removes."""
    limit = stream_limit()
    events = _MultipartEvents(body_chunks(), _boundary()).events()
    if name is not None:
        at_most = 1
    parts: list[FilePart] = []
    for event in events:
        if isinstance(event, Field):
            raise Invalid(f"The form field {_shown(event.name)} is not a file: a multipart "
                          "upload takes file parts only (curl -F 'file=@path'); give an "
                          "object's name with ?name=.")
        if not isinstance(event, File):
            raise Invalid("The multipart body is malformed: part data outside a part.")
        if not event.filename and name is None:
            _skip_empty_part(events)  # a browser's file input with no file chosen
            continue
        if len(parts) == at_most:
            raise Invalid(_too_many(at_most, name))
        object_name = _part_name(name if name is not None else event.filename)
        mimetype, blob = stored_with_type(dataset, object_name,
                                          event.headers.get("Content-Type"),
                                          _part_chunks(events), limit)
        parts.append(FilePart(object_name, mimetype, blob))
    if not parts:
        raise Invalid("The multipart upload has no file part: send each file as a part with a "
                      "filename (curl -F 'file=@photo.jpg').")
    return parts


def check_unique(dataset: str, parts: list[FilePart]) -> None:
    """409 before anything is created when a part would be refused as duplicate content: two
    parts with the same bytes, or a part whose bytes a live object of the dataset holds."""
    seen: dict[str, FilePart] = {}
    for part in parts:
        earlier = seen.setdefault(part.blob.digest, part)
        if earlier is not part:
            raise Conflict(f"The files {_shown(earlier.name)} and {_shown(part.name)} of this "
                           "upload have the same bytes; a dataset holds each content once. "
                           "Nothing was created.")
        holders = queries.objects_with_hash(context.installation(), dataset, part.blob.digest)
        if holders:
            raise Conflict(f"An object with the same bytes as {_shown(part.name)} already "
                           "exists in this dataset. Nothing was created.", existing=holders[0])


def _boundary() -> bytes:
    boundary = request.mimetype_params.get("boundary", "")
    if not boundary or len(boundary) > MAX_BOUNDARY or not boundary.isascii():
        raise Invalid("A multipart/form-data upload needs a boundary parameter in its "
                      "Content-Type (1 to 70 ASCII characters).")
    return boundary.encode("ascii")


def _part_name(filename: str) -> str:
    try:
        return validation.object_name(filename)
    except Invalid as exc:
        raise Invalid(f"The file {_shown(filename)} cannot be an object's name: {exc.message} "
                      "Nothing was created.") from None


def _too_many(at_most: int, name: str | None) -> str:
    if name is not None:
        return ("?name= names a single object, but the upload has more than one file part. "
                "Nothing was created.")
    if at_most == 1:
        return "An update takes exactly one file part. Nothing was created."
    return f"A multipart upload creates at most {at_most} objects. Nothing was created."


def _shown(text: str | None, at_most: int = 80) -> str:
    """A client-supplied name, quoted and cut short, for an error message."""
    text = text or ""
    return repr(text if len(text) <= at_most else text[:at_most] + "...")


def _part_chunks(events: Iterator[Event]) -> Iterator[bytes]:
    """The data of the part whose header was just read, as it is decoded."""
    for event in events:
        if not isinstance(event, Data):
            break
        if event.data:
            yield event.data
        if not event.more_data:
            return
    raise Invalid("The multipart body is malformed: a part ended without its data.")


def _skip_empty_part(events: Iterator[Event]) -> None:
    for chunk in _part_chunks(events):
        if chunk:
            raise Invalid("A file part without a filename has content: name each file "
                          "(curl -F 'file=@path' does), or give its name with ?name=.")


class _MultipartEvents:
    """The parts' headers and data of a multipart body, decoded while it is read: memory holds
    one chunk and at most one part's headers (MAX_PART_HEADER_BYTES) at a time."""

    def __init__(self, chunks: Iterator[bytes], boundary: bytes) -> None:
        self._chunks = chunks
        self._decoder = MultipartDecoder(boundary)

    def events(self) -> Iterator[Event]:
        """File, Field and Data events, up to the closing boundary; the rest of the body (an
        epilogue) is read and dropped. Invalid for a malformed or truncated body."""
        decoder = self._decoder
        while True:
            try:
                event = decoder.next_event()
            except ValueError as exc:  # broken headers, or the body ended inside a part
                raise Invalid(self._malformed(exc)) from None
            if isinstance(event, NeedData):
                if decoder.state == State.EPILOGUE:
                    for _ in self._chunks:  # what follows the closing boundary: ignored
                        pass
                    return
                if len(decoder.buffer) > MAX_PART_HEADER_BYTES:
                    raise Invalid("The multipart body is malformed: no part boundary or end "
                                  f"of part headers within {MAX_PART_HEADER_BYTES} bytes.")
                decoder.receive_data(next(self._chunks, None))  # None: the body has ended
            elif isinstance(event, Epilogue):
                return
            elif not isinstance(event, Preamble):
                yield event

    def _malformed(self, exc: ValueError) -> str:
        if self._decoder.complete and not isinstance(exc, UnicodeDecodeError):
            return ("The multipart body ended before its closing boundary "
                    f"(--{self._decoder.boundary.decode('ascii')}--); nothing was created.")
        if isinstance(exc, UnicodeDecodeError):
            return "The multipart body is malformed: a part's headers are not UTF-8."
        return ("The multipart body is malformed: a part's headers lack a Content-Disposition "
                "header.")
