"""Helpers for tests that drive `gonk-api` as real OS processes (CLI and HTTP server), and
look at processes through /proc (Linux): a server's worker processes, their memory and CPU time.

Exposed to tests as the session fixture `gonk_proc` (tests/conftest.py). `free_port` is also
used by bench/bench.py, so this module imports nothing from pytest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

# The console script's entry point, run with this interpreter: works whether or not the venv's
# bin directory is on PATH.
GONK_API = [sys.executable, "-c", "from gonk.cli import main; main()"]


STORAGE_VARIABLES = ("GONK_DATA_DIR", "GONK_DATABASE_URL", "GONK_BLOB_URL")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Gonk's storage settings (a test says where its
    installation lives), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in STORAGE_VARIABLES}
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
    """A TCP port of 127.0.0.1 that nothing listens on at the moment of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`gonk-api run` (or, with command="serve", `gonk-api serve` under gunicorn) on a free port,
    as a child process; always stopped by `stop()`.

    `args` are extra options for the command (e.g. ["--workers", "2"]). With `new_session`, the
    server leads its own process group (pgid == proc.pid), so a test can SIGKILL the gunicorn
    master and all its workers at once with os.killpg. With `split_stderr`, standard error goes
    to `<log>.err` (`stderr_text()`) and the log holds standard output alone."""

    def __init__(self, data_dir: Path, key: str, log_path: Path, command: str = "run",
                 args: Sequence[str] = (), new_session: bool = False,
                 split_stderr: bool = False, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.key = key
        self.command = command
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.host}"
        self.log_path = log_path
        self.new_session = new_session
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.err_path = log_path.with_suffix(".err") if split_stderr else None
        self._err = open(self.err_path, "wb") if self.err_path else None  # noqa: SIM115
        # The dev server logs every request: a file, not a pipe, so it can never block on us.
        self.proc = subprocess.Popen(
            [*GONK_API, "--data-dir", str(data_dir), command, "--host", "127.0.0.1",
             "--port", str(self.port), *args],
            stdout=self._log, stderr=self._err or subprocess.STDOUT,
            env=env if env is not None else clean_env(),
            start_new_session=new_session)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stderr_text(self) -> str:
        return self.err_path.read_text(errors="replace") if self.err_path else ""

    def wait_until_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gonk-api {self.command} exited with "
                                     f"{self.proc.returncode}:\n{self.log()}{self.stderr_text()}")
            try:
                resp = requests.get(f"{self.base}/datasets", headers={"x-api-key": self.key},
                                    timeout=1)
                if resp.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gonk-api {self.command} did not answer within {timeout}s:\n"
                             f"{self.log()}{self.stderr_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.new_session:  # no worker may outlive its master (e.g. after a SIGKILL test)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()
        if self._err:
            self._err.close()


def start_server(data_dir: Path, key: str, command: str = "run", args: Sequence[str] = (),
                 new_session: bool = False, split_stderr: bool = False,
                 env: dict[str, str] | None = None) -> Server:
    """`env`: the server's whole environment (default: clean_env())."""
    server = Server(data_dir, key, data_dir.parent / f"server-{time.time_ns()}.log", command,
                    args, new_session, split_stderr, env)
    try:
        server.wait_until_ready()
    except BaseException:
        server.stop()
        raise
    return server


# --- processes seen through /proc (Linux) -------------------------------------------------------


def child_pids(pid: int) -> list[int]:
    """The child processes of `pid` (e.g. a gunicorn master's workers), of all its threads."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children


def is_gone(pid: int) -> bool:
    """Gone, or a zombie (dead, waiting for whoever adopted it to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except (FileNotFoundError, ProcessLookupError):
        return True


def cpu_ticks(pid: int) -> int:
    """The CPU time `pid` has used so far, in clock ticks (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def status_kib(pid: int, field: str) -> int:
    """A memory figure of /proc/<pid>/status in KiB, e.g. VmRSS (resident) or VmHWM (peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")
