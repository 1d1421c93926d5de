"""The gunicorn worker of `gonk-api serve`: gthread, with no thread given to a slow or idle client.

gunicorn's gthread worker (ThreadWorker) runs a main loop that accepts connections and keeps idle
kept-alive ones in a poller, and a pool of threads that serve requests. It hands a connection to
a thread as soon as the connection has a byte to read, and that thread then blocks until the
request's head (request line and headers) is complete and, in the application, until its body
has arrived. So a client that sends half a request line and stops holds a thread for as long
as it likes: 25 such connections left the default `serve` (5 workers x 4 threads) unable to
answer anyone, and an idle connection held a thread for 5 s before gunicorn put it back.

GonkWorker changes when a connection gets a thread, and how long a thread may wait for it:

- **The head is read by the main loop.** Bytes are read, non-blocking, from whichever
  connections are readable, until the head is complete (with a body of up to SMALL_BODY bytes
  that it announces by Content-Length) or can be judged (too long, a bare LF, the client gone);
  only then does the connection go to a thread, with those bytes pushed back into gunicorn's
  parser, which parses and checks them exactly as before. A head not complete within
  `header_timeout` seconds of its first byte (or of the connection, for one that sends nothing)
  is answered 408 (or, with nothing sent, just closed); one longer than MAX_HEAD bytes, 431.
  Idle kept-alive connections wait in the same loop and are closed after gunicorn's
  `keepalive` seconds.
- **A worker accepts connections only while it has a free thread**, so that requests go to
  the workers that can serve them rather than queue behind busy threads (see
  set_accept_enabled).
- **A body is read in the thread, at a bounded pace.** Each read from the socket waits at most
  `body_timeout` seconds, and the time a request spends waiting for its body may not exceed
  `body_timeout` plus one second per MIN_BODY_RATE bytes received: a body that stalls or
  trickles fails (the application answers 400, see api/bodies.py), so a slow upload holds a
  thread for a bounded time. Time the application spends between reads (hashing, storing)
  does not count: only waiting on the client does.
- **A thread never drains what the application left unread.** A body the application did not
  read (a 401 or 404 before it) is discarded if it has already arrived; else the connection is
  closed after the response instead of a thread waiting for the rest.
- **Closing never blocks the main loop.** A connection closed after a response lingers (RFC
  9112 section 9.6: half-close, read and discard what the client still sends, for at most
  LINGER_SECONDS) in the main loop, not in a blocking call of it as in gthread, where one
  client that never closed its end stalled every connection of the worker for 2 s.
- **What gunicorn refuses gets a JSON body**: a bad request line, headers too large or too
  many, a bad or conflicting Content-Length / Transfer-Encoding, with the status gunicorn
  chooses (400, 414, 431, 501...), as `{"error": "..."}` like every other error of the API.

It serves plain HTTP/1.x, as `serve` configures it (TLS belongs to the reverse proxy in front).
It subclasses gunicorn internals (TConn, the parser's unreader, ThreadWorker's handle and
finish_request), so pyproject.toml pins gunicorn to the major version it is tested with.
"""

from __future__ import annotations

import errno
import json
import re
import selectors
import socket
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from http import HTTPStatus
from typing import Any, Literal

from gunicorn import util
from gunicorn.config import Config
from gunicorn.glogging import Logger as GLogger
from gunicorn.http import errors as http_errors
from gunicorn.http.errors import (  # type: ignore[attr-defined]  # gunicorn 27, not in its stubs
    InvalidResponseHeader,
    InvalidResponseHeaderName,
)
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser
from gunicorn.http.unreader import SocketUnreader
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.gthread import TConn, ThreadWorker

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 20.0
# The slowest average pace a body may arrive at once its first `body_timeout` seconds of
# waiting are used up (Apache's mod_reqtimeout uses the same figure): a client trickling a byte
# now and then is cut off, any real network is far faster.
MIN_BODY_RATE = 500  # bytes per second of waiting
# A head (request line and headers) longer than this is refused (431) by the main loop itself,
# below gunicorn's own limits (up to 100 fields of 8 KiB: 800 KiB), since every connection
# waiting in the main loop holds what it has sent so far. Real heads take a few hundred bytes
# (nginx allows 32 KiB by default).
MAX_HEAD = 64 * 1024
# A body announced by Content-Length up to this size is read by the main loop with the head, so
# that a client sending a small JSON body slowly does not hold a thread either. So each waiting
# connection holds at most 128 KiB, and a worker (1000 connections, gunicorn's
# worker_connections) 128 MiB at worst.
SMALL_BODY = 64 * 1024
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024
RECV_BYTES = 64 * 1024
MAX_BODY_RECV = 1024 * 1024  # as gunicorn's SocketUnreader: one recv() of a body reads at most this

_TRANSFER_ENCODING = re.compile(rb"\r\ntransfer-encoding[ \t]*:", re.IGNORECASE)
_EXPECT = re.compile(rb"\r\nexpect[ \t]*:", re.IGNORECASE)
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*([0-9]{1,18})[ \t]*\r\n",
                             re.IGNORECASE)


def error_response(status: int, message: str) -> bytes:
    """A whole HTTP/1.1 response with the API's JSON error body, closing the connection: for
    requests refused before (or instead of) reaching the application."""
    body = (json.dumps({"error": message}, separators=(",", ":")) + "\n").encode()
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def _shown(value: object, limit: int = 200) -> str:
    """Client-sent text quoted in an error message, cut short: a refused request line may be
    kilobytes long."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def refusal(exc: BaseException) -> tuple[int, str] | None:
    """The status and message for a request gunicorn's parser refused, as gunicorn's own
    Worker.handle_error chooses the status; None for anything that is not the client's fault
    (a 500)."""
    framing = ("CONTENT-LENGTH", "TRANSFER-ENCODING")
    if isinstance(exc, http_errors.InvalidHeader) and getattr(exc, "hdr", None) in framing:
        return 400, ("The request's framing is invalid or ambiguous (a malformed or repeated "
                     "Content-Length, Content-Length together with Transfer-Encoding, or a "
                     "Transfer-Encoding that does not end with chunked).")
    table: list[tuple[type[BaseException], int, str]] = [
        (http_errors.InvalidRequestLine, 400, "Invalid request line"),
        (http_errors.InvalidRequestMethod, 400, "Invalid request method"),
        (http_errors.InvalidHTTPVersion, 400, "Invalid HTTP version"),
        (http_errors.ObsoleteFolding, 400, "Header line folding is not accepted"),
        (http_errors.InvalidHeaderName, 400, "Invalid header name"),
        (http_errors.InvalidHeader, 400, "Invalid header"),
        (http_errors.UnsupportedTransferCoding, 501, "Unsupported Transfer-Encoding"),
        (http_errors.LimitRequestLine, 414, "The request line is too long"),
        (http_errors.LimitRequestHeaders, 431, "Too many headers, or a header too large"),
        (http_errors.ExpectationFailed, 417, "Unsupported Expect header"),
        (http_errors.InvalidChunkSize, 400, "Invalid chunked body"),
        (http_errors.ChunkMissingTerminator, 400, "Invalid chunked body"),
        (http_errors.InvalidChunkExtension, 400, "Invalid chunked body"),
        (http_errors.InvalidSchemeHeaders, 400, "Contradictory scheme headers"),
        (http_errors.InvalidProxyLine, 400, "Invalid PROXY line"),
        (http_errors.ForbiddenProxyRequest, 403, "Request forbidden"),
        (http_errors.ConfigurationProblem, 500, "Server configuration problem"),
    ]
    for kind, status, what in table:
        if isinstance(exc, kind):
            return status, f"{what}: {_shown(exc)}"
    return None


class TimedUnreader(SocketUnreader):
    """gunicorn's socket reader with the body's pace bounded (see the module's docstring): each
    recv() waits at most `idle_timeout`, and the time spent waiting for one request may not pass
    idle_timeout + received / MIN_BODY_RATE; past either, TimeoutError. The socket stays in
    blocking mode (no timeout) outside recv(), so writing a response is not affected.

    With `buffered_only`, a read that would need the socket raises TimeoutError at once: used
    to discard a body the application left unread only as far as it has already arrived."""

    def __init__(self, sock: socket.socket, idle_timeout: float) -> None:
        super().__init__(sock)
        self.idle_timeout = idle_timeout
        self.buffered_only = False
        self.waited = 0.0
        self.received = 0

    def start_request(self) -> None:
        self.waited = 0.0
        self.received = 0

    def chunk(self, size_hint: int | None = None) -> bytes:
        if self.buffered_only:
            raise TimeoutError("the rest of the body has not arrived")
        allowance = self.idle_timeout + self.received / MIN_BODY_RATE - self.waited
        wait = min(self.idle_timeout, allowance)
        if wait <= 0:
            raise TimeoutError(f"the body arrived slower than {MIN_BODY_RATE} bytes/s")
        size = self.mxchunk
        if size_hint and size_hint > size:
            size = min(size_hint, MAX_BODY_RECV)
        started = time.monotonic()
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(size)
        finally:
            self.waited += time.monotonic() - started
            self.sock.settimeout(None)
        self.received += len(data)
        return data


@dataclass
class _Head:
    """A connection whose next request's head the main loop is reading."""

    deadline: float
    data: bytearray = field(default_factory=bytearray)
    scanned: int = 0  # bytes of `data` already looked at by _refused_early
    needed: int | None = None  # once the head is complete: bytes to read before a thread


@dataclass
class _Linger:
    deadline: float
    drained: int = 0


class GonkWorker(ThreadWorker):
    """See the module's docstring. `configured` makes a subclass with other timeouts (the
    worker class is given to gunicorn as a class; each worker process instantiates it)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT

    @classmethod
    def configured(cls, header_timeout: float, body_timeout: float) -> type[GonkWorker]:
        return type(cls.__name__, (cls,), {"header_timeout": header_timeout,
                                           "body_timeout": body_timeout})

    @classmethod
    def check_config(cls, cfg: Config, log: GLogger) -> None:
        super().check_config(cfg, log)
        if cfg.is_ssl or "h2" in (cfg.http_protocols or "") or cfg.protocol != "http":
            raise RuntimeError("GonkWorker serves plain HTTP/1.x; terminate TLS and HTTP/2 "
                               "in a reverse proxy in front of it")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heads: dict[TConn, _Head] = {}
        self._busy = 0  # requests handed to the thread pool and not finished yet
        self._lingering: dict[TConn, _Linger] = {}
        self._max_line, self._max_head = self._head_limits(self.cfg)

    @staticmethod
    def _head_limits(cfg: Config) -> tuple[int, int]:
        """The most bytes a request line (with the empty line allowed before it and its CRLF)
        and a whole head can take within gunicorn's limits, as gunicorn's parser computes them;
        past either the parser refuses the request (414, 431), so the main loop stops waiting
        for the head's end."""
        line = cfg.limit_request_line
        line = 1024 * 1024 if line == 0 else 8190 if line < 0 or line > 8190 else line
        fields = cfg.limit_request_fields
        fields = 32768 if fields <= 0 or fields > 32768 else fields
        size = cfg.limit_request_field_size
        size = 8190 if size <= 0 else size
        return 2 + line + 2, 2 + line + 2 + fields * (size + 2) + 4

    # --- connections waiting for a head, in the main loop ---------------------------------------

    def accept(self, listener: socket.socket) -> None:
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking
        self._await_head(conn, time.monotonic() + self.header_timeout)

    def _await_head(self, conn: TConn, idle_deadline: float) -> None:
        """Wait in the poller for the next request's head; `idle_deadline` until its first
        byte, header_timeout from then on. Bytes a previous request read ahead count."""
        head = _Head(idle_deadline)
        if isinstance(conn.parser, RequestParser):
            head.data += conn.parser.unreader.take_buffered()
        conn.sock.setblocking(False)
        self._heads[conn] = head
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_bytes, conn))
        if head.data:
            head.deadline = time.monotonic() + self.header_timeout
            self._go_on(conn, head)

    def _on_head_bytes(self, conn: TConn, _sock: object) -> None:
        head = self._heads[conn]
        data = _received(conn)
        if data is None:
            return
        if not data:  # the client closed its end: let the parser say what it makes of the rest
            if head.data:
                self._dispatch(conn, head)
            else:
                self._forget_head(conn)
                self._close(conn)
            return
        if not head.data:
            head.deadline = time.monotonic() + self.header_timeout
        head.data += data
        self._go_on(conn, head)

    def _go_on(self, conn: TConn, head: _Head) -> None:
        """After more bytes: hand the request to a thread, refuse it, or keep waiting."""
        state = self._state(head)
        if state == "ready":
            self._dispatch(conn, head)
        elif state == "too large":
            self._forget_head(conn)
            self._refuse(conn, 431, f"The request's head (request line and headers) is larger "
                                    f"than {MAX_HEAD} bytes.")

    def _state(self, head: _Head) -> Literal["wait", "ready", "too large"]:
        """Whether a thread can take the request: its head is complete (with its small body)
        or will never be (gunicorn's parser refuses it at once), or it is too large to wait
        for. Looks at each byte once (bytes arrive in pieces as small as the client likes)."""
        data = head.data
        if head.needed is None:
            end = data.find(b"\r\n\r\n", max(0, head.scanned - 3))
            if end < 0:
                if self._refused_early(head):
                    return "ready"
                return "too large" if len(data) > MAX_HEAD else "wait"
            if end + 4 > MAX_HEAD:
                return "too large"
            head.needed = self._request_size(bytes(data[:end + 2]), end + 4)
        return "ready" if len(data) >= head.needed else "wait"

    def _refused_early(self, head: _Head) -> bool:
        """Whether an incomplete head will be refused by gunicorn's parser whatever follows:
        a line ending in a bare LF, a request line or a head longer than its limits."""
        data = head.data
        newline = data.find(b"\n", head.scanned)
        head.scanned = len(data)
        while newline >= 0:
            if newline == 0 or data[newline - 1] != ord("\r"):
                return True
            newline = data.find(b"\n", newline + 1)
        return len(data) > self._max_head or (
            len(data) > self._max_line and data.find(b"\r\n", 2, self._max_line) < 0)

    def _refuse(self, conn: TConn, status: int, message: str) -> None:
        """Answer a request the main loop refuses (head too large, or too slow) and close."""
        self.log.info("Request from ip=%s refused with %s: %s",
                      conn.client[0] if isinstance(conn.client, tuple) else conn.client,
                      status, message)
        try:
            conn.sock.send(error_response(status, message))
        except OSError:
            pass
        self._linger(conn)

    @staticmethod
    def _request_size(head: bytes, head_size: int) -> int:
        """How many bytes the main loop reads before a thread takes the request: the head, and
        a body of up to SMALL_BODY bytes announced by Content-Length. A chunked body, and that
        of a client waiting for 100 Continue, are the thread's to read."""
        if _TRANSFER_ENCODING.search(head) or _EXPECT.search(head):
            return head_size
        length = _CONTENT_LENGTH.search(head)
        if length is None or int(length.group(1)) > SMALL_BODY:
            return head_size
        return head_size + int(length.group(1))

    def _dispatch(self, conn: TConn, head: _Head) -> None:
        """Hand the connection to a thread, with the bytes read so far pushed back into its
        parser (made here the first time, with a TimedUnreader)."""
        self._forget_head(conn)
        conn.sock.setblocking(True)
        if conn.parser is None:
            conn.parser = RequestParser(self.cfg, conn.sock, conn.client)
            conn.parser.unreader = TimedUnreader(conn.sock, self.body_timeout)
            conn.initialized = True
        if not isinstance(conn.parser, RequestParser):  # check_config allows no other
            raise RuntimeError(f"unexpected parser {conn.parser!r}")
        unreader = conn.parser.unreader
        if isinstance(unreader, TimedUnreader):
            unreader.start_request()
        unreader.unread(bytes(head.data))
        self.enqueue_req(conn)

    def _forget_head(self, conn: TConn) -> None:
        if self._heads.pop(conn, None) is not None:
            self.poller.unregister(conn.sock)

    def _expire_heads(self) -> None:
        now = time.monotonic()
        for conn, head in list(self._heads.items()):
            if head.deadline > now:
                continue
            self._forget_head(conn)
            if not head.data:
                self._close(conn)
            elif self.alive:
                self._refuse(conn, 408, f"The request's head (request line and headers) did "
                                        f"not arrive within {self.header_timeout:g} seconds.")
            else:
                self._refuse(conn, 503, "The server is restarting or stopping: send the "
                                        "request again.")

    def _cap_keepalive(self, deadline: float) -> None:
        """Stopping: connections waiting for a head are closed by `deadline` at the latest, as
        gthread does with its kept-alive ones; one that had sent part of a request is told to
        send it again (503). Requests already with a thread may still finish."""
        super()._cap_keepalive(deadline)  # type: ignore[misc]  # gunicorn 27, not in its stubs
        for head in self._heads.values():
            head.deadline = min(head.deadline, deadline)

    def murder_pending(self) -> None:
        """Called by ThreadWorker.run after every turn of the main loop (once a second at
        least): closes heads and lingering closes past their deadlines."""
        super().murder_pending()
        self._expire_heads()
        self._expire_lingering()

    # --- the thread pool, and accepting only while it has a free thread -------------------------

    def set_accept_enabled(self, enabled: bool | None) -> None:
        """Accept new connections only while a thread is free. Every worker's main loop is
        equally quick to accept, busy or not, so without this a worker whose threads are all
        taken (by long uploads, say) keeps taking its share of new connections, and their
        requests wait in its queue while other workers have threads to spare. A connection not
        accepted waits in the listening socket's backlog for a worker that can serve it."""
        super().set_accept_enabled(bool(enabled) and self._busy < self.cfg.threads)

    def _accept_if_able(self) -> None:
        if self.alive:
            self.set_accept_enabled(self.nr_conns < self.worker_connections)

    def enqueue_req(self, conn: TConn) -> None:
        self._busy += 1
        super().enqueue_req(conn)
        self._accept_if_able()

    # --- after a request, in the main loop ------------------------------------------------------

    def finish_request(self, conn: TConn, fs: Future[bool]) -> None:
        self._busy -= 1
        self._accept_if_able()
        try:
            keepalive = bool(fs.result()) if not fs.cancelled() else False
        except Exception:
            keepalive = False
        try:
            if keepalive and conn.parser is not None:
                deadline = time.monotonic() + self.cfg.keepalive
                if not self.alive:
                    deadline = min(deadline, time.monotonic() + LINGER_SECONDS)
                self._await_head(conn, deadline)
            else:
                self._linger(conn)
        except Exception:
            self._forget_head(conn)
            self._close(conn)

    def _linger(self, conn: TConn) -> None:
        """Close after a response without losing it (RFC 9112 section 9.6): send FIN, then read
        and discard what the client still sends (which would make the kernel answer RST and
        destroy the response in flight) until it closes, LINGER_BYTES or LINGER_SECONDS."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            self._close(conn)
            return
        self._lingering[conn] = _Linger(time.monotonic() + LINGER_SECONDS)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_linger_bytes, conn))

    def _on_linger_bytes(self, conn: TConn, _sock: object) -> None:
        linger = self._lingering[conn]
        data = _received(conn)
        if data is None:
            return
        linger.drained += len(data)
        if not data or linger.drained >= LINGER_BYTES:
            self._end_linger(conn)

    def _end_linger(self, conn: TConn) -> None:
        del self._lingering[conn]
        self.poller.unregister(conn.sock)
        self._close(conn)

    def _expire_lingering(self) -> None:
        now = time.monotonic()
        for conn, linger in list(self._lingering.items()):
            if linger.deadline <= now:
                self._end_linger(conn)

    def _close(self, conn: TConn) -> None:
        self.nr_conns -= 1
        conn.close()

    # --- in a thread ----------------------------------------------------------------------------

    def _keepalive_after(self, conn: TConn, keepalive: bool) -> bool:
        """Whether the connection can carry another request (ThreadWorker.handle asks after
        each response): only if what is left of this request's body has already arrived, so
        that it can be discarded without waiting on the client (see TimedUnreader)."""
        if not keepalive or not isinstance(conn.parser, RequestParser):
            return False
        unreader = conn.parser.unreader
        if not isinstance(unreader, TimedUnreader):
            return False
        unreader.buffered_only = True
        try:
            # the stubs say None; gunicorn 27 returns whether the body was discarded whole
            return bool(conn.parser.finish_body())  # type: ignore[func-returns-value]
        except Exception:  # the unread body turned out malformed: the response is out, close
            return False
        finally:
            unreader.buffered_only = False

    def handle_error(self, req: Request | None, client: socket.socket,
                     addr: Any, exc: BaseException) -> None:
        """What gunicorn's Worker.handle_error does (log, access log line, an error response
        that closes the connection), with the API's JSON error body instead of HTML."""
        started = datetime.now()
        address = addr or ("", -1)  # a Unix socket's peer has no address
        refused = None
        if not isinstance(exc, (InvalidResponseHeader, InvalidResponseHeaderName)):
            # (a header the application sent is invalid: its fault, a 500)
            refused = refusal(exc)
        if refused is not None:
            status, message = refused
            self.log.warning("Invalid request from ip=%s: %s", address[0], exc)
            if req is None:
                req = getattr(exc, "req", None)  # a header error knows its request: log it
        else:
            status = 500
            message = ("Internal server error. The request was not carried out; the server "
                       "log has the details.")
            self.log.exception("Error handling request %s", getattr(req, "uri", "(no URI read)"))
        response = error_response(status, message)
        if req is not None and getattr(req, "method", None) is not None:
            environ = default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"] = address[0]
            environ["REMOTE_PORT"] = str(address[1])
            logged = Response(req, client, self.cfg)
            logged.status = f"{status} {HTTPStatus(status).phrase}"
            logged.response_length = len(response)
            self.log.access(logged, req, environ, datetime.now() - started)
        try:
            util.write_nonblock(client, response)
        except Exception:
            self.log.debug("Failed to send error message.")


def _received(conn: TConn) -> bytes | None:
    """What a readable non-blocking socket has, b"" once the client has closed its end or the
    connection failed, None when there was nothing after all."""
    try:
        return conn.sock.recv(RECV_BYTES)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""
