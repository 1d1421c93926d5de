"""Concurrent writers never fork or break a dataset's chain (SPEC section 6, last paragraph).

Phase 1: 16 threads write through one real `gonk-api run` (Flask's threaded dev server).
Phase 2: 2 OS processes open the same data directory and call gonk.service directly.
Then `gonk-api verify` passes, every acknowledged write is exactly one event, and the chain
recomputes from the stored events.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

from gonk.installation import Installation
from gonk.storage.datasets import get as dataset_row
from gonk.storage.log import event_bodies
from gonk.verify import verify_dataset
from tests.support.chain import recompute_chain
from tests.support.http import b64

DATASET = "busy"
THREADS = 16
OBJECTS_PER_THREAD = 5
PROCESS_WRITES = 30
TIMEOUT = 60

LABEL_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
    "properties": {"label": {"type": "string"}}, "required": ["label"],
}).encode()

WRITER_SCRIPT = r"""
import sys, time
from pathlib import Path
from gonk import service
from gonk.installation import Installation

data_dir, tag, count, go_file = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
installation = Installation.open(data_dir)
deadline = time.monotonic() + 30
while not go_file.exists():  # start both processes' loops together
    if time.monotonic() > deadline:
        sys.exit("never told to start")
    time.sleep(0.005)
done = 0
for n in range(count):
    result = service.create_object(installation, "busy", "bob", f"proc-{tag}-{n}.txt", "text/plain",
                                   f"written by process {tag}, write {n}".encode())
    assert result["version"] == 0, result
    done += 1
installation.close()
print(done)
"""


class Writer(threading.Thread):
    """One client thread: object creates with distinct bytes; every 4th thread also annotates
    its first object and has the owner accept that object's create event and the annotation."""

    def __init__(self, index: int, base: str, keys: dict[str, str],
                 barrier: threading.Barrier) -> None:
        super().__init__(name=f"writer-{index}")
        self.index, self.base, self.keys, self.barrier = index, base, keys, barrier
        self.writes: list[tuple[str, int, str]] = []  # (what, status, body) of each write
        self.error: BaseException | None = None

    def write(self, session: requests.Session, what: str, method: str, path: str,
              user: str, body: Any = None) -> requests.Response:
        resp = session.request(method, f"{self.base}{path}", json=body, timeout=TIMEOUT,
                               headers={"x-api-key": self.keys[user]})
        self.writes.append((what, resp.status_code, resp.text))
        return resp

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.error = exc

    def _run(self) -> None:
        session = requests.Session()
        self.barrier.wait(timeout=30)
        first = None
        for n in range(OBJECTS_PER_THREAD):
            user = "alice" if (self.index + n) % 2 else "bob"
            data = f"thread {self.index} object {n}".encode()
            resp = self.write(session, "object create", "POST", f"/datasets/{DATASET}/objects",
                              user, {"name": f"t{self.index}-{n}.txt", "mimetype": "text/plain",
                                     "object": b64(data)})
            if first is None and resp.status_code == 200:
                first = resp.json()["uuid"]
        if self.index % 4 or first is None:
            return
        resp = self.write(session, "annotation create", "POST",
                          f"/datasets/{DATASET}/annotations", "bob",
                          {"schema": {"name": "schema-label", "version": 0},
                           "object_identifiers": [{"uuid": first, "version": 0}],
                           "annotation": b64(json.dumps({"label": f"t{self.index}"}).encode())})
        annotation = resp.json()["uuid"] if resp.status_code == 200 else None
        load = session.get(f"{self.base}/datasets/{DATASET}/objects/{first}/0",
                           headers={"x-api-key": self.keys["bob"]}, timeout=TIMEOUT).json()
        self.write(session, "accept", "PUT",
                   f"/datasets/{DATASET}/events/{load['events'][0]['uuid']}/accept", "alice")
        if annotation is not None:
            load = session.get(f"{self.base}/datasets/{DATASET}/annotations/{annotation}/0",
                               headers={"x-api-key": self.keys["bob"]}, timeout=TIMEOUT).json()
            self.write(session, "accept", "PUT",
                       f"/datasets/{DATASET}/events/{load['events'][0]['uuid']}/accept", "alice")


def all_events(base: str, key: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if after:
            params["after"] = after
        resp = requests.get(f"{base}/datasets/{DATASET}/events", params=params,
                            headers={"x-api-key": key}, timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        if not page:
            return events
        events += page
        after = page[-1]["uuid"]


def test_threads_and_processes_write_one_unbroken_chain(tmp_path: Path, gonk_proc: Any) -> None:
    started = time.monotonic()
    data_dir = tmp_path / "gonk-data"
    init = gonk_proc.run_cli("init", "--username", "alice", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    added = gonk_proc.run_cli("users", "add", "bob", data_dir=data_dir)
    assert added.returncode == 0, added.stderr
    keys = {"alice": gonk_proc.last_line(init.stdout), "bob": gonk_proc.last_line(added.stdout)}

    server = gonk_proc.start_server(data_dir, keys["alice"])
    try:
        base = server.base
        headers = {"x-api-key": keys["alice"]}
        setup = [
            requests.post(f"{base}/datasets", json={"name": DATASET}, headers=headers,
                          timeout=TIMEOUT),
            requests.post(f"{base}/datasets/{DATASET}/schemas", headers=headers, timeout=TIMEOUT,
                          json={"name": "schema-label", "schema": b64(LABEL_SCHEMA)}),
        ]
        assert [r.status_code for r in setup] == [200, 200], [r.text for r in setup]
        setup_writes = 1  # the schema create (the dataset's own OwnerAddEvent is the "1 +")

        # --- phase 1: 16 threads through the HTTP server -----------------------------------
        barrier = threading.Barrier(THREADS)
        writers = [Writer(i, base, keys, barrier) for i in range(THREADS)]
        for w in writers:
            w.start()
        for w in writers:
            w.join(timeout=120)
        assert not any(w.is_alive() for w in writers), "a writer thread hung"
        errors = [w.error for w in writers if w.error is not None]
        assert not errors, errors
        writes = [write for w in writers for write in w.writes]
        refused = [write for write in writes if write[1] != 200]
        assert not refused, refused[:5]
        http_writes = len(writes)
        kinds = [what for what, _, _ in writes]
        assert kinds.count("object create") == THREADS * OBJECTS_PER_THREAD
        assert kinds.count("annotation create") == THREADS // 4
        assert kinds.count("accept") == 2 * (THREADS // 4)

        # --- phase 2: 2 OS processes on the same data directory -----------------------------
        go_file = tmp_path / "go"
        procs = [subprocess.Popen(
            [sys.executable, "-c", WRITER_SCRIPT, str(data_dir), tag, str(PROCESS_WRITES),
             str(go_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=gonk_proc.clean_env()) for tag in ("a", "b")]
        try:
            time.sleep(0.3)  # let both import gonk and open the database
            go_file.touch()
            outputs = [p.communicate(timeout=120) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for p, (out, err) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, err
            assert out.strip() == str(PROCESS_WRITES)
        process_writes = 2 * PROCESS_WRITES

        # the server sees every write, in one log
        events = all_events(base, keys["alice"])
        listed = requests.get(f"{base}/datasets/{DATASET}/objects", params={"limit": 1000},
                              headers=headers, timeout=TIMEOUT).json()
    finally:
        server.stop()

    successful = setup_writes + http_writes + process_writes
    assert len(events) == 1 + successful
    assert len({e["uuid"] for e in events}) == len(events)
    assert events[0]["type"] == "OwnerAddEvent"
    head = recompute_chain(events)
    assert len(listed) == THREADS * OBJECTS_PER_THREAD + process_writes
    assert len({o["uuid"] for o in listed}) == len(listed)

    verified = gonk_proc.run_cli("verify", data_dir=data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{DATASET}: OK" in verified.stdout

    installation = Installation.open(data_dir)
    try:
        verdict = verify_dataset(installation, DATASET)
        assert verdict.ok, verdict.message
        assert verdict.events == 1 + successful
        with installation.db.read() as conn:
            row = dataset_row(conn, DATASET)
            stored = list(event_bodies(conn, row.id))
        assert (row.event_count, row.head_integrity) == (1 + successful, head)
        assert stored == events  # the API serves the stored log exactly
    finally:
        installation.close()
    assert time.monotonic() - started < 60
