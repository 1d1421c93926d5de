"""Normal requests while slow or idle clients hold connections open; prints figures.

    python bench/slow_clients.py                        # every kind, 0/25/200/500 connections
    python bench/slow_clients.py --kinds partial --counts 0,25 --workers 2

Starts `gonk-api serve` (default: as `serve` would, 5 workers on two cores x 4 threads) on a
fresh installation, then, for each kind of slow client and each count, opens that many
connections of that kind, waits a second for the server to take them, and times PROBES normal
requests (`GET /datasets` with a key, each on a new connection) while they stay open. A probe
that gets no answer within --cap seconds ends that row ("stalled"). Kinds:

- idle:        connects and sends nothing;
- partial:     sends half a request line ("GET /datasets HTT") and stops;
- slow-head:   sends a request's head one byte per second (slowloris);
- slow-body:   sends a whole head (no key) announcing a 10 MB upload, then one byte per second;
- slow-json:   sends a whole head with a valid key announcing a 2 KiB JSON body, then one byte
               per second (a small body a thread would wait for);
- slow-upload: sends a whole head with a valid key announcing a 10 MB raw upload, then one byte
               per second. Not in the default kinds: a body the application reads holds a
               thread by design, for at most about --body-timeout seconds under GonkWorker
               (forever under gthread), so with more such uploads than threads this row stalls
               for that long either way; `--kinds slow-upload` shows it.

Each probe's latency is printed as median / max over the probes. Run it on the code before and
after a change (e.g. PYTHONPATH=/path/to/old/checkout/src python bench/slow_clients.py) to
compare. The open-file limit of this process (and so of the server it starts) is raised to its
hard limit, since 500 connections need 500 descriptors on each side. Tests never assert on time;
this script only prints.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

# Run as a script: put the repository root on the path for tests.support.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import GONK_API, clean_env, free_port, last_line  # noqa: E402

KINDS = ("idle", "partial", "slow-head", "slow-body", "slow-json", "slow-upload")
DEFAULT_KINDS = KINDS[:-1]
PROBES = 10


def raise_open_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class SlowClients:
    """`count` connections of one kind, kept open (and dripping, for the slow kinds) by a
    background thread until close()."""

    def __init__(self, kind: str, count: int, port: int, key: str) -> None:
        self.kind = kind
        self.socks: list[socket.socket] = []
        self.pending: dict[socket.socket, bytes] = {}
        for number in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            first, rest = self._message(number, key)
            if first:
                sock.sendall(first)
            self.socks.append(sock)
            if rest:
                self.pending[sock] = rest
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)
        self._thread.start()

    def _message(self, number: int, key: str) -> tuple[bytes, bytes]:
        """What is sent at once, and what is then sent one byte per second."""
        if self.kind == "idle":
            return b"", b""
        if self.kind == "partial":
            return b"GET /datasets HTT", b""
        if self.kind == "slow-head":
            return b"", (f"GET /datasets HTTP/1.1\r\nHost: bench\r\nx-api-key: {key}\r\n"
                         f"X-Padding: {'p' * 200}\r\n\r\n").encode()
        if self.kind in ("slow-body", "slow-upload"):
            key_header = f"x-api-key: {key}\r\n" if self.kind == "slow-upload" else ""
            head = (f"POST /datasets/bench/objects?name=slow-{number}.bin HTTP/1.1\r\n"
                    f"Host: bench\r\n{key_header}Content-Type: application/octet-stream\r\n"
                    "Content-Length: 10000000\r\n\r\n").encode()
            return head, b"x" * 10_000
        body = b'{"name": "x%05d", "padding": "%s"}' % (number, b"p" * 2000)
        head = (f"POST /datasets HTTP/1.1\r\nHost: bench\r\nx-api-key: {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        return head.encode(), body

    def _drip(self) -> None:
        while not self._stop.wait(1.0):
            for sock, rest in list(self.pending.items()):
                try:
                    sock.send(rest[:1])
                except OSError:
                    del self.pending[sock]
                    continue
                if len(rest) > 1:
                    self.pending[sock] = rest[1:]
                else:
                    del self.pending[sock]

    def still_open(self) -> int:
        """How many of the connections the server has not closed (nor answered)."""
        selector = selectors.DefaultSelector()
        for sock in self.socks:
            with contextlib.suppress(ValueError, OSError):
                selector.register(sock, selectors.EVENT_READ)
        readable = len(selector.select(timeout=0))
        selector.close()
        return len(self.socks) - readable

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.socks:
            sock.close()


def probe(base: str, key: str, cap: float) -> float | None:
    """Seconds to answer one normal request on a new connection; None past `cap`."""
    start = time.monotonic()
    try:
        resp = requests.get(f"{base}/datasets", headers={"x-api-key": key, "Connection": "close"},
                            timeout=cap)
    except requests.RequestException:
        return None
    elapsed = time.monotonic() - start
    return elapsed if resp.status_code == 200 else None


def measure(kind: str, count: int, port: int, key: str, probes: int, cap: float,
            give_up: float) -> tuple[str, int]:
    """One row: `probes` probes while `count` clients of `kind` are connected. The first probe
    not answered within `cap` ends the row; it waits up to `give_up` to say when it was."""
    base = f"http://127.0.0.1:{port}"
    clients = SlowClients(kind, count, port, key)
    try:
        time.sleep(1.0)  # the server accepts them and they reach their slow state
        times: list[float] = []
        stalled: float | None = None
        for _ in range(probes):
            took = probe(base, key, max(cap, give_up))
            if took is None or took > cap:
                stalled = took if took is not None else float("inf")
                break
            times.append(took)
        still_open = clients.still_open()
    finally:
        clients.close()
    if stalled is not None:
        waited = (f"no answer within {max(cap, give_up):.0f} s" if stalled == float("inf")
                  else f"answered after {stalled:.1f} s")
        shown = f"stalled ({len(times)} answered, then one {waited})"
    else:
        shown = (f"median {statistics.median(times) * 1000:7.1f} ms, "
                 f"max {max(times) * 1000:7.1f} ms")
    return shown, still_open


def wait_until_answering(base: str, key: str, limit: float = 120) -> None:
    """After a row, until the server answers quickly again (the slow clients of the row are
    gone), so that one row does not spill over into the next."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        took = probe(base, key, 2.0)
        if took is not None and took < 0.5:
            return
        time.sleep(0.5)
    raise RuntimeError("the server did not recover within two minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default=",".join(DEFAULT_KINDS),
                        help=f"comma-separated, of: {', '.join(KINDS)}")
    parser.add_argument("--counts", default="0,25,200,500")
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--probes", type=int, default=PROBES)
    parser.add_argument("--cap", type=float, default=10.0,
                        help="seconds a probe may wait before its row counts as stalled")
    parser.add_argument("--give-up", type=float, default=0.0,
                        help="how long a stalled probe still waits, to say when it was "
                             "answered (default: --cap)")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    counts = [int(c) for c in args.counts.split(",")]
    limit = raise_open_file_limit()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        env = clean_env()
        done = subprocess.run([*GONK_API, "--data-dir", str(data_dir), "init", "--username",
                               "bench"], capture_output=True, text=True, env=env, check=True)
        key = last_line(done.stdout)
        port = free_port()
        log = open(Path(tmp) / "serve.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [*GONK_API, "--data-dir", str(data_dir), "serve", "--port", str(port),
             "--workers", str(args.workers), "--threads", str(args.threads),
             "--access-log", ""],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_answering(base, key, 60)
            requests.post(f"{base}/datasets", json={"name": "bench"},
                          headers={"x-api-key": key}, timeout=10).raise_for_status()
            import gonk

            print(f"gonk from {Path(gonk.__file__).parent}; gunicorn serve with "
                  f"{args.workers} workers x {args.threads} threads; open-file limit {limit}; "
                  f"{args.probes} probes per row, each on a new connection")
            for kind in kinds:
                for count in counts:
                    shown, still_open = measure(kind, count, port, key, args.probes,
                                                args.cap, args.give_up)
                    print(f"{kind:9} {count:4} connections ({still_open:4} still open): "
                          f"{shown}", flush=True)
                    wait_until_answering(base, key)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            log.close()


if __name__ == "__main__":
    main()
