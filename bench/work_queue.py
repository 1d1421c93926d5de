"""The work queue's speed (issue 16): how long one claim takes with 100,000 objects queued, and
how many claims per second 32 concurrent claimers get, against a real `gonk-api serve`. Tests
never assert on time; this only prints.

    python bench/work_queue.py                                  # SQLite + files, 100,000 objects
    python bench/work_queue.py --objects 20000 --claims 300
    python bench/work_queue.py --database-url postgresql://postgres@127.0.0.1/test --workers 4

Building: `gonk-api init`, a dataset with `schema-label`, then N small text objects created and
accepted in process through the service layer's DatasetLog (the rules, the chain and the
projection; 1,000 per transaction), so the queue holds N accepted objects with no annotation.

Measuring: `gonk-api serve` (2 workers unless --workers); (1) one claimer, one keep-alive
connection, --claims claims one after the other, each timed from sending to the last byte
(median and 95th percentile); (2) 32 claimers, one thread and connection each, claiming
--race claims between them as fast as they can: claims per second, and a check that no object
was handed out twice.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gonk import service  # noqa: E402
from gonk.domain import events as ev  # noqa: E402
from gonk.installation import Installation  # noqa: E402
from gonk.storage.log import DatasetLog  # noqa: E402
from tests.support import postgres, processes  # noqa: E402

DATASET = "queue"
SCHEMA = json.dumps({"type": "object", "properties": {"label": {"type": "string"}}}).encode()


def build(installation: Installation, objects: int) -> None:
    service.create_dataset(installation, "alice", DATASET)
    service.create_schema(installation, DATASET, "alice", "schema-label", SCHEMA)
    made = 0
    started = time.perf_counter()
    while made < objects:
        batch = min(1000, objects - made)
        stored = []
        for i in range(made, made + batch):
            data = f"object {i}\n".encode()
            stored.append((installation.blobs.put(data), len(data), f"o{i:07d}.txt"))
        with installation.db.write() as conn:
            log = DatasetLog.lock(conn, DATASET)
            for digest, size, name in stored:
                meta = ev.object_metadata(ev.new_uuid(), 0, name, "text/plain", size, digest)
                created = log.append(ev.object_write("alice", meta))
                log.append(ev.review("alice", created["uuid"], accept=True))
        made += batch
    with installation.db.write() as conn:  # the schema, accepted
        log = DatasetLog.lock(conn, DATASET)
        from gonk.storage.log import event_bodies
        first = next(e for e in event_bodies(conn, log.dataset_id)
                     if e["type"] == ev.OBJECT_CREATE)
        log.append(ev.review("alice", first["uuid"], accept=True))
    print(f"built: {objects} accepted objects in {time.perf_counter() - started:.1f} s")


def claim(session: requests.Session, base: str) -> dict:
    answer = session.post(f"{base}/datasets/{DATASET}/queue/claim", timeout=60,
                          json={"task": "annotate", "schema": "schema-label"})
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()


def one_claimer(base: str, key: str, claims: int) -> None:
    with requests.Session() as s:
        s.headers["x-api-key"] = key
        claim(s, base)  # warm: the process's first claim checks the tables' statistics
        times = []
        for _ in range(claims):
            started = time.perf_counter()
            got = claim(s, base)
            times.append(time.perf_counter() - started)
            assert got["lease"] is not None
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"one claimer, {claims} claims: median {statistics.median(times) * 1000:.2f} ms, "
          f"p95 {p95 * 1000:.2f} ms")


def cpu_seconds() -> dict[str, float]:
    """CPU time used so far (user + system) by the server's processes, PostgreSQL's and this
    one's, read from /proc (Linux; empty elsewhere)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    used = {"server": 0.0, "PostgreSQL": 0.0}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        kind = ("PostgreSQL" if command.startswith("postgres") else
                "server" if "gonk" in command and "serve" in command else None)
        if kind is not None:
            used[kind] += (int(fields[11]) + int(fields[12])) / tick
    mine = resource.getrusage(resource.RUSAGE_SELF)
    used["benchmark client"] = mine.ru_utime + mine.ru_stime
    return used


def race(base: str, key: str, claimers: int, total: int) -> None:
    got: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(claimers + 1)

    def run() -> None:
        with requests.Session() as s:
            s.headers["x-api-key"] = key
            barrier.wait()
            while True:
                with lock:
                    if len(got) >= total:
                        return
                answer = claim(s, base)
                if answer["lease"] is None:
                    return
                with lock:
                    got.append(answer["item"]["object"]["uuid"])

    threads = [threading.Thread(target=run) for _ in range(claimers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    before = cpu_seconds()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    after = cpu_seconds()
    assert len(set(got)) == len(got), "an object was handed out twice"
    print(f"{claimers} claimers: {len(got)} claims in {elapsed:.2f} s = "
          f"{len(got) / elapsed:.0f} claims/s, each object once")
    if after:
        print("CPU time per claim: " + ", ".join(
            f"{kind} {(after[kind] - before.get(kind, 0.0)) / len(got) * 1000:.2f} ms"
            for kind in after))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=500, help="claims of the lone claimer")
    parser.add_argument("--race", type=int, default=3000, help="claims of the 32 claimers")
    parser.add_argument("--claimers", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None,
                        help="postgresql://... (a new database is made on that server)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        data = Path(workdir) / "data"
        env = processes.clean_env()
        url = None
        if args.database_url:
            # commits wait for the disk, as on a production server (the tests' do not)
            url = postgres.create_database(durable=True)
            env["GONK_DATABASE_URL"] = url
        try:
            init = processes.run_cli("init", "--username", "alice", data_dir=data, env=env)
            assert init.returncode == 0, init.stderr
            key = processes.last_line(init.stdout)
            installation = Installation.open(data, url)
            build(installation, args.objects)
            installation.close()
            server = processes.start_server(data, key, "serve",
                                            ["--workers", str(args.workers), "--access-log", ""],
                                            env=env)
            try:
                print(f"gonk-api serve --workers {args.workers} on "
                      f"{'PostgreSQL' if url else 'SQLite'}, {args.objects} objects queued")
                one_claimer(server.base, key, args.claims)
                race(server.base, key, args.claimers, args.race)
            finally:
                server.stop()
        finally:
            if url:
                postgres.drop_database(url)


if __name__ == "__main__":
    main()
