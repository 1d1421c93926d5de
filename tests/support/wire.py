"""HTTP/1.1 as bytes on a socket, for tests that send what no HTTP client library would: broken
framing, half requests, pipelined requests, bodies cut short, slow clients.

`exchange` sends one message and reads the answer; `read_response` reads one response off a
socket (ResponseReader several pipelined ones in turn); `slow_connections` opens connections
that send part of a request, or nothing, and keep them open.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

TIMEOUT = 10.0


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # names lowercased
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("content-type", "").startswith("application/json"), self
        return json.loads(self.body)


class ResponseReader:
    """Reads responses off one socket in turn (bytes read past a response are kept for the
    next), for pipelined requests."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def next(self, head_only: bool = False) -> RawResponse:
        """The next response (its body by Content-Length, or up to the connection's end);
        AssertionError if the connection ends before a whole head."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise AssertionError(f"the connection ended before a response: {self.buf!r}")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split(" ")[1])
        if head_only:
            return RawResponse(status, headers, b"")
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(self.buf) < length and self._fill():
                pass
            body, self.buf = self.buf[:length], self.buf[length:]
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        return RawResponse(status, headers, body)


def read_response(sock: socket.socket, head_only: bool = False) -> RawResponse:
    """One response from `sock` (see ResponseReader)."""
    return ResponseReader(sock).next(head_only)


def exchange(port: int, message: bytes, half_close: bool = False,
             timeout: float = TIMEOUT) -> RawResponse:
    """Send `message` on a new connection (then, with `half_close`, end the sending side, as a
    client does that has nothing more to send) and read one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(message)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_response(sock, head_only=message.startswith(b"HEAD "))


def is_closed_or_answered(sock: socket.socket) -> bool:
    """Whether the server has closed the connection or sent something on it, without waiting."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)  # a byte of an answer, or b"" for the connection's end
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


@contextlib.contextmanager
def slow_connections(port: int, starts: list[bytes], drips: list[bytes],
                     every: float = 0.5) -> Iterator[list[socket.socket]]:
    """One connection per item of `starts`: sends that much at once, then the matching item of
    `drips` one byte every `every` seconds (from a background thread), and stays open until the
    end of the `with`."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) for _ in starts]
    for sock, start in zip(socks, starts, strict=True):
        if start:
            sock.sendall(start)
    stop = threading.Event()
    pending = {sock: drip for sock, drip in zip(socks, drips, strict=True) if drip}

    def drip() -> None:
        while pending and not stop.wait(every):
            for sock, rest in list(pending.items()):
                try:
                    sock.send(rest[:1])
                except OSError:
                    rest = b""
                if len(rest) > 1:
                    pending[sock] = rest[1:]
                else:
                    del pending[sock]

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        yield socks
    finally:
        stop.set()
        thread.join()
        for sock in socks:
            sock.close()


def wait_for(predicate: Any, limit: float, step: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `limit` seconds have passed; whether it became true."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
