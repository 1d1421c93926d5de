"""`gonk-api serve`: Gonk under gunicorn, the way to run it for a team; and the request handler of
`gonk-api run`'s development server.

Each worker process builds its own app (and database connections) after the fork. Appends are
serialised by the database, never by a lock in one process, so any number of workers (and hosts)
can write to one dataset safely. The workers are GonkWorkers (http_worker.py): gthread, with
slow and idle clients kept off the threads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from werkzeug.serving import WSGIRequestHandler

from .http_worker import GonkWorker

# `run`: a connection whose client sends nothing (or cannot take the answer) for this long is
# dropped. The development server gives every connection a thread of its own, so a slow client
# never blocks another; this only keeps abandoned ones from piling up.
DEV_SERVER_TIMEOUT = 60


def default_workers() -> int:
    """Two per core plus one: the usual gunicorn advice for a mix of CPU work (hashing,
    base64, JSON) and waiting on fsync."""
    return 2 * (os.cpu_count() or 1) + 1


Storage = tuple[Path, str | None, str | None]  # data directory, database URL, blob URL


def serving_line(where: str, host: str, port: int) -> str:
    """What `run` and `serve` print once they listen: the installation and the real address
    (the bound socket's, so --port 0 shows the port chosen), with the health check's URL."""
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return f"Gonk is serving {where} at {base}/ (health check: {base}/health)"


def announce_when_ready(where: str) -> Callable[[Arbiter], None]:
    """A gunicorn `when_ready` hook: called in the master process once its sockets are bound
    and listening (workers start right after), it prints serving_line on standard output."""
    def when_ready(arbiter: Arbiter) -> None:
        for listener in arbiter.LISTENERS:
            address = listener.sock.getsockname()
            if isinstance(address, tuple):  # TCP (a Unix socket's address is its path)
                print(serving_line(where, address[0], address[1]), flush=True)

    return when_ready


class GonkServer(BaseApplication):
    def __init__(self, storage: Storage, options: dict[str, Any],
                 app_config: dict[str, Any] | None = None) -> None:
        self.storage = storage
        self.options = options
        self.app_config = app_config or {}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from .api import create_app

        data_dir, database_url, blob_url = self.storage
        return create_app(data_dir=data_dir, database_url=database_url, blob_url=blob_url,
                          config=self.app_config)


class DevRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler for `run`, with a read timeout (DEV_SERVER_TIMEOUT) and the
    API's JSON error body on the requests Python's HTTP server refuses itself (a bad request
    line or version, a request line or header too long, too many headers: 400, 414, 431)."""

    timeout = DEV_SERVER_TIMEOUT

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        status = HTTPStatus(code)
        self.log_error("code %d, message %s", code, message or status.phrase)
        if self.request_version == "HTTP/0.9":
            # the request line could not be read, so its version is not known: http.server
            # would answer as to HTTP/0.9, with the body alone; answer with a status and headers
            self.request_version = "HTTP/1.0"
        body = (json.dumps({"error": message or status.description or status.phrase},
                           separators=(",", ":")) + "\n").encode()
        self.send_response(code, status.phrase)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 205, 304):
            self.wfile.write(body)
        self.close_connection = True


def serve(storage: Storage, host: str, port: int, workers: int, threads: int, timeout: int,
          access_log: str | None, app_config: dict[str, Any], where: str,
          header_timeout: float, body_timeout: float) -> None:
    """Serve the installation `storage` (described by `where`, for the line printed once the
    sockets listen) until gunicorn is stopped."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # Threads for requests, and a main loop per worker that reads heads and keeps idle
        # connections (http_worker.py); `timeout` restarts a worker only when it stops
        # answering gunicorn's heartbeat, never in the middle of a long upload.
        "worker_class": GonkWorker.configured(header_timeout, body_timeout),
        "timeout": timeout,
        "keepalive": 5,
        # One gunicorn control socket per user is shared by every gunicorn instance; Gonk needs
        # none.
        "control_socket_disable": True,
        "graceful_timeout": 30,
        "accesslog": access_log,
        "errorlog": "-",
        "access_log_format": '%(h)s "%(r)s" %(s)s %(B)s %(M)sms',
        "proc_name": "gonk-api",
        "when_ready": announce_when_ready(where),
    }
    GonkServer(storage, options, app_config).run()
