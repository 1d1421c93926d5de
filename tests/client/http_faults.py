"""An HTTP proxy that fails the way networks and proxies fail, in front of a live Gonk server.

`FaultyProxy(upstream)` forwards every request to the server, except those a test has asked
to fail (`fail(action, times, method=, path=)`), in the order asked:

- "503", "502", "504": answer that status without forwarding (a 503 with `Retry-After` when
  `retry_after` is given), as a proxy or a Gonk server whose storage is down would;
- "drop": read the request, forward nothing, close the connection without an answer (reset);
- "lost": forward the request (the server acts on it), then close the connection without
  relaying the answer: the client cannot know that its request was carried out.

`seen` lists every request received, as (method, path, outcome)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Fault:
    action: str
    times: int
    method: str | None
    path: str | None
    retry_after: str | None


class FaultyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[Fault] = []
        self.seen: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._session = requests.Session()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def fail(self, action: str, times: int = 1, method: str | None = None,
             path: str | None = None, retry_after: str | None = None) -> None:
        """The next `times` requests matching `method` and containing `path` fail so."""
        with self._lock:
            self.faults.append(Fault(action, times, method, path, retry_after))

    def outcomes(self, method: str | None = None, path: str | None = None) -> list[str]:
        return [outcome for m, p, outcome in self.seen
                if (method is None or m == method) and (path is None or path in p)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._session.close()

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # - the machinery -

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and (fault.method in (None, method)) \
                        and (fault.path is None or fault.path in path):
                    fault.times -= 1
                    return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        method, path = handler.command, handler.path
        body = self._body(handler)
        fault = self._fault_for(method, path)
        action = fault.action if fault else "forward"
        self.seen.append((method, path, action))
        if action in ("503", "502", "504"):
            payload = b'{"error": "The test proxy says no."}'
            handler.send_response(int(action))
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            if fault is not None and fault.retry_after is not None:
                handler.send_header("Retry-After", fault.retry_after)
            handler.end_headers()
            handler.wfile.write(payload)
            return
        if action == "drop":
            self._reset(handler)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        answer = self._session.request(method, self.upstream + path, data=body,
                                       headers=headers, allow_redirects=False, timeout=60)
        if action == "lost":
            self._reset(handler)
            return
        handler.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in HOP_BY_HOP:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.content)))
        handler.end_headers()
        if method != "HEAD":
            handler.wfile.write(answer.content)

    @staticmethod
    def _body(handler: BaseHTTPRequestHandler) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(handler.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    handler.rfile.readline()
                    return bytes(data)
                data += handler.rfile.read(size)
                handler.rfile.readline()
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    @staticmethod
    def _reset(handler: BaseHTTPRequestHandler) -> None:
        """Close the client's connection with a reset, sending nothing."""
        handler.close_connection = True
        connection: socket.socket = handler.connection
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            connection.close()
