"""Guessing a file's mimetype from its first bytes and its name, for uploads that do not say
(raw uploads sent as `application/x-www-form-urlencoded` or `application/octet-stream`, as
`curl --data-binary` and many clients do, multipart parts without a type) and for
`gonk-api import`. Only the head of the content is looked at, so a stream can be guessed from
its first chunk(s) and then stored without being held in memory."""

from __future__ import annotations

import mimetypes

import filetype

HEAD_BYTES = 8192  # what the guess reads: filetype's signature length, and the text sniff's
OCTET_STREAM = "application/octet-stream"
TEXT = "text/plain"

# What common clients send when they do not know the type: not the object's type at all.
NOT_GIVEN = frozenset({"application/x-www-form-urlencoded", OCTET_STREAM})


def is_given(mimetype: str | None) -> bool:
    """Whether a request's mimetype (without parameters) says anything about the content."""
    return bool(mimetype) and str(mimetype).split(";", 1)[0].strip().lower() not in NOT_GIVEN


def guess(head: bytes, name: str) -> str:
    """The mimetype of content starting with `head` (its first HEAD_BYTES bytes, or all of it
    if shorter) named `name`: from the magic numbers first (reliable for binary formats), then
    the name's extension (text formats have no magic), then whether the head reads as UTF-8
    text (text/plain), else application/octet-stream."""
    head = bytes(head[:HEAD_BYTES])
    kind = filetype.guess(head) if head else None
    if kind is not None:
        return str(kind.mime)
    by_name = _by_name(name)
    if by_name:
        return by_name
    return TEXT if _reads_as_text(head) else OCTET_STREAM


def _by_name(name: str) -> str | None:
    """The type the last path component's extension maps to. It is given as a relative path
    ("./" first) so that mimetypes never reads a name such as "data:..." as a URL."""
    base = name.rsplit("/", 1)[-1]
    if not base:
        return None
    found, _encoding = mimetypes.guess_type("./" + base)
    return found


def _reads_as_text(head: bytes) -> bool:
    """UTF-8 without NUL bytes; when the head is a prefix of longer content (HEAD_BYTES long),
    a character cut off at its end does not count against it."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(head) < HEAD_BYTES or exc.start < len(head) - 3:
            return False
    return b"\x00" not in head
