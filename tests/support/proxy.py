"""A TCP proxy a test controls, to make a storage service fail the way networks fail.

`FaultyLink(target_port)` listens on a free port of 127.0.0.1 and forwards every connection to
the target (PostgreSQL, moto's S3 server). A test points Gonk at `link.port` and then:

- `refuse()`: the service is stopped: open connections are reset, new ones refused;
- `blackhole()`: the service hangs: open connections are cut off, new ones are accepted but
  nothing is ever forwarded or answered (a client waits until its own timeout);
- `restore()`: the service is back: connections are forwarded again, on the same port.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading

from tests.support.processes import free_port

FORWARD, REFUSE, BLACKHOLE = "forward", "refuse", "blackhole"


class FaultyLink:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.mode = FORWARD
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = False
        self._listen()

    # --- what a test calls -------------------------------------------------------------------

    def refuse(self) -> None:
        with self._lock:
            self.mode = REFUSE
            self._stop_listening()
        self._cut_all()

    def blackhole(self) -> None:
        with self._lock:
            self.mode = BLACKHOLE
        self._cut_all()
        self._listen()

    def restore(self) -> None:
        with self._lock:
            self.mode = FORWARD
        self._listen()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            self._stop_listening()
        self._cut_all()

    def __enter__(self) -> FaultyLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the machinery -----------------------------------------------------------------------

    def _listen(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _stop_listening(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None

    def _cut_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                # a reset, as when the far end's process dies
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                sock.close()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped listening
            self._track(client)
            if self.mode == BLACKHOLE:
                continue  # accepted, and never answered
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._track(upstream)
        pair = {client: upstream, upstream: client}
        # a selector (epoll), not select(): a long test session's descriptors pass 1024
        watch = selectors.DefaultSelector()
        try:
            for sock in pair:
                watch.register(sock, selectors.EVENT_READ)
            while True:
                ready = watch.select(1.0)
                if self.mode != FORWARD and not ready:
                    continue
                for key, _ in ready:
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError, KeyError):
            return
        finally:
            watch.close()
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.close()
