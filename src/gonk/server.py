"""`gonk-api serve`: Gonk under gunicorn, the way to run it for a team.

Each worker process builds its own app (and database connections) after the fork. Appends are
serialised by the database, never by a lock in one process, so any number of workers (and hosts)
can write to one dataset safely.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter


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


def serve(storage: Storage, host: str, port: int, workers: int, threads: int, timeout: int,
          access_log: str | None, app_config: dict[str, Any], where: str) -> None:
    """Serve the installation `storage` (described by `where`, for the line printed once the
    sockets listen) until gunicorn is stopped."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # Always gthread: a thread per request, and `timeout` restarts a worker only when it
        # stops answering gunicorn's heartbeat, never in the middle of a long upload.
        "worker_class": "gthread",
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
