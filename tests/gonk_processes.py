"""Helpers for tests that drive `gonk-api` as real OS processes (CLI and HTTP server).

Exposed to tests as the session fixture `gonk_proc` (tests/conftest.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

# The console script's entry point, run with this interpreter: works whether or not the venv's
# bin directory is on PATH.
GONK_API = [sys.executable, "-c", "from gonk.cli import main; main()"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GONK_DATA_DIR"}
    env.update(extra)
    return env


def run_cli(*args: str | os.PathLike[str], data_dir: Path | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    argv = [*GONK_API]
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    argv += [str(a) for a in args]
    return subprocess.run(argv, check=False, capture_output=True, text=True, cwd=cwd,
                          env=env if env is not None else clean_env(), timeout=timeout)


def run_many(*argvs: tuple[str, ...], **kwargs: Any) -> list[subprocess.CompletedProcess]:
    """Several independent CLI runs at once (each one is a fresh interpreter: ~0.4 s)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda argv: run_cli(*argv, **kwargs), argvs))


def last_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "expected output, got none"
    return lines[-1].strip()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`gonk-api run` on a free port, as a child process; always stopped by `stop()`."""

    def __init__(self, data_dir: Path, key: str, log_path: Path) -> None:
        self.data_dir = data_dir
        self.key = key
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.host}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        # The dev server logs every request: a file, not a pipe, so it can never block on us.
        self.proc = subprocess.Popen(
            [*GONK_API, "--data-dir", str(data_dir), "run", "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, env=clean_env())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gonk-api run exited with {self.proc.returncode}:\n"
                                     f"{self.log()}")
            try:
                resp = requests.get(f"{self.base}/datasets", headers={"x-api-key": self.key},
                                    timeout=1)
                if resp.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gonk-api run did not answer within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def start_server(data_dir: Path, key: str) -> Server:
    server = Server(data_dir, key, data_dir.parent / f"server-{time.time_ns()}.log")
    try:
        server.wait_until_ready()
    except BaseException:
        server.stop()
        raise
    return server
