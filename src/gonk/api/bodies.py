"""Request bodies read exactly as the client framed them, under either server.

werkzeug's Request.stream trusts a server that says it ends the body itself
(`wsgi.input_terminated`, which gunicorn always sets, and the development server for chunked
bodies) and then only caps it at max_content_length. Two mistakes follow:

- a body that ends before its Content-Length (the client stopped sending, or went away) reads
  as if it were complete: gunicorn returns what arrived, then nothing. A JSON body cut short
  that still parses (`{"name": "x"}` of a Content-Length of 100) would be carried out;
- a body without Content-Length (chunked) longer than the limit is cut at the limit without a
  word: `get_data()` returns its first max_content_length bytes as if they were all of it.

GonkRequest's stream reads a body with a Content-Length as exactly that many bytes (fewer is
werkzeug's ClientDisconnected, a 400), and a body without one up to the limit, then makes sure
nothing follows (anything more is 413). Framing errors of the server's chunked decoder and read
timeouts surface as exceptions errors.py answers with 400.
"""

from __future__ import annotations

import io
from typing import IO, cast

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


class _CappedStream(LimitedStream):
    """A body of unknown length that may not exceed `limit` bytes: reading past the limit
    looks for one byte more, and finding one is 413 (werkzeug's own is_max stream returns the
    first `limit` bytes as if they were the whole body)."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self._checked = False

    def on_exhausted(self) -> None:
        if self._checked:
            return
        self._checked = True
        try:
            more = self._stream.read(1)
        except (OSError, ValueError) as exc:
            self.on_disconnect(error=exc)
            return
        if more:
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class GonkRequest(Request):
    """Flask's Request with a stream that keeps to the body's framing (see the module's
    docstring)."""

    @cached_property
    def stream(self) -> IO[bytes]:
        if self.shallow:
            raise RuntimeError("This request was created with 'shallow=True', reading from "
                               "the input stream is disabled.")
        raw = cast(IO[bytes], self.environ["wsgi.input"])
        length = self.content_length
        limit = self.max_content_length
        if length is not None:
            if limit is not None and length > limit:
                raise RequestEntityTooLarge()
            return cast(IO[bytes], LimitedStream(raw, length))
        if "wsgi.input_terminated" not in self.environ:
            return io.BytesIO()  # no length and no end the server vouches for: no body
        if limit is None:
            return raw
        return cast(IO[bytes], _CappedStream(raw, limit))
