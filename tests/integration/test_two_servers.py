"""Several servers, one dataset: two `gonk-api serve` processes on different ports share one
PostgreSQL database and one S3 bucket, and take concurrent writes to the same dataset from many
threads through both. No write is lost, none fails, the chain is one, and bytes written through
one server are read back through the other."""

from __future__ import annotations

import base64
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.chain import recompute_chain
from tests.support.storage import process_storage

THREADS = 12
WRITES_PER_THREAD = 10
TIMEOUT = 60


def test_two_servers_one_database_one_bucket(tmp_path: Path, gonk_proc: Any,
                                            request: pytest.FixtureRequest) -> None:
    with process_storage("postgres-s3", request) as env:
        init = gonk_proc.run_cli("init", "--username", "alice", data_dir=tmp_path / "a", env=env)
        assert init.returncode == 0, init.stderr
        key = gonk_proc.last_line(init.stdout)
        auth = {"x-api-key": key}
        # each server gets its own (unused) data directory: all state is in the database+bucket
        servers = [gonk_proc.start_server(tmp_path / name, key, "serve",
                                          ["--workers", "2", "--threads", "4"], env=env)
                   for name in ("a", "b")]
        try:
            first, second = (server.base for server in servers)
            assert requests.post(f"{first}/datasets", json={"name": "shared"}, headers=auth,
                                 timeout=TIMEOUT).status_code == 200

            def write(thread: int) -> list[tuple[str, str, bytes]]:
                written = []
                session = requests.Session()
                session.headers.update(auth)
                for i in range(WRITES_PER_THREAD):
                    base = (first, second)[(thread + i) % 2]
                    data = os.urandom(2000) + f"{thread}-{i}".encode()
                    if i % 2:
                        resp = session.post(f"{base}/datasets/shared/objects",
                                            params={"name": f"{thread}-{i}.bin"}, data=data,
                                            headers={"Content-Type": "application/x-test"},
                                            timeout=TIMEOUT)
                    else:
                        resp = session.post(f"{base}/datasets/shared/objects", timeout=TIMEOUT,
                                            json={"name": f"{thread}-{i}.bin",
                                                  "mimetype": "application/x-test",
                                                  "object": base64.b64encode(data).decode()})
                    assert resp.status_code == 200, resp.text
                    written.append((base, resp.json()["uuid"], data))
                return written

            with ThreadPoolExecutor(THREADS) as pool:
                written = [w for ws in pool.map(write, range(THREADS)) for w in ws]
            assert len(written) == THREADS * WRITES_PER_THREAD

            # every write is in the one log, through either server
            for base in (first, second):
                events = requests.get(f"{base}/datasets/shared/events",
                                      params={"limit": 1000}, headers=auth,
                                      timeout=TIMEOUT).json()
                assert len(events) == 1 + len(written)
                recompute_chain(events)
                created = {e["object"]["uuid"] for e in events
                           if e["type"] == "ObjectCreateEvent"}
                assert created == {uuid for _, uuid, _ in written}

            # bytes written through one server come back through the other
            for base, uuid, data in written:
                other = second if base == first else first
                resp = requests.get(f"{other}/datasets/shared/objects/{uuid}/0/bytes",
                                    headers=auth, timeout=TIMEOUT)
                assert resp.status_code == 200
                assert resp.content == data
                assert resp.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        finally:
            for server in servers:
                server.stop()
        for server in servers:
            assert "Traceback" not in server.log() + server.stderr_text()
        verified = gonk_proc.run_cli("verify", data_dir=tmp_path / "a", env=env)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert f"{1 + len(written)} events" in verified.stdout
