"""Releases, as-of reads and diffs on a large dataset, against a real `gonk-api serve`; prints
figures for issue 12's targets. Tests never assert on time; this script only prints.

    python bench/releases.py                # 100,000 objects + 100,000 annotations (~10 min)
    python bench/releases.py --quick        # 10,000 of each (a minute or two)
    python bench/releases.py --objects 30000
    python bench/releases.py --database-url postgresql://postgres@127.0.0.1:5432/gonk_bench_rel
        # PostgreSQL: an empty database (created when it does not exist; refused if it has
        # Gonk's tables already: drop it or name another); blobs stay in local files. The
        # build takes ~15 min there for 100,000 (2 cores)
    python bench/releases.py --workdir /tmp/rel   # keeps the installation; run the same line
        # again to measure it again without building (new release names each run)

The dataset is built in this process, before the server starts, on the same installation the
server then serves: `gonk-api init`, then the service layer's own DatasetLog appends (the rules,
the hash chain and the projection, exactly as a request runs them), many events per write
transaction. Blob files are written straight to the store's paths without an fsync each (the
bytes and names are the store's; only the flushes are left out: 1,000/s with them). Annotation
documents conform to the schema but are not validated one by one (the rules never look at
content). The log:

    OwnerAdd, schema create + accept,
    per chunk of 1,000 objects: 1,000 object creates, their accepts, one annotation per object
        (linked to its version 0), their accepts          <- EARLY: the end of the first quarter
    history: 2% of objects updated (v1) and accepted, 1% of annotations updated and accepted,
        0.5% of objects and 0.5% of annotations deleted (accepted), 0.2% of objects updated and
        rejected, 0.2% updated and left pending; in random order  <- LATE: its last event
    a tail of 0.1% new objects, left pending (so LATE is not the head)

Then, with `gonk-api serve` (its default workers and threads) on that installation:
  1. POST /releases of the whole dataset (at the head): seconds (target <= 10 s) and the
     gunicorn workers' resident memory before/peak/after (sampled from /proc every 10 ms, and
     VmHWM; target: growth < 100 MiB);
  2. the release's manifest streamed: lines/s (target >= 50,000), sha256 checked against
     manifest_sha256 and the line count against the release's counts;
  3. first/middle/last pages (limit 100, `after` cursors) of /objects, /objects/accepted,
     /annotations and /events, at EARLY and at LATE (?as_of=<event uuid>), each against the
     same page without as_of: median of several runs, and the ratio (target <= 2x);
  4. /diff?from=EARLY&to=LATE: first/middle/last page (limit 100) (target: flat); then the
     first page of a diff of the last 200 events and of an empty diff, whose pages read many
     unchanged items.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

# Run as a script (python bench/releases.py): put the repository root on the path for the
# helpers bench shares with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.processes import child_pids, cpu_ticks, free_port, status_kib  # noqa: E402

GONK = [sys.executable, "-c", "from gonk.cli import main; main()"]
DATASET = "releases-bench"
USER = "bench"
SCHEMA = {"type": "object", "properties": {"label": {"type": "string"},
                                           "score": {"type": "number"}},
          "required": ["label"]}
TICKS = os.sysconf("SC_CLK_TCK")
CHUNK = 1000  # objects (with their annotations) per write transaction while building


# --- building the dataset, in process ---------------------------------------------------------

@dataclass
class Built:
    objects: list[str] = field(default_factory=list)  # uuids in creation order
    annotations: list[str] = field(default_factory=list)
    early_seq: int = 0
    late_seq: int = 0
    events: list[str] = field(default_factory=list)  # every event uuid, in log order
    history: dict[str, int] = field(default_factory=dict)

    def event_uuid(self, seq: int) -> str:
        return self.events[seq - 1]

    def count_at(self, seq: int, created: list[int]) -> int:
        """How many items (of a list whose creation positions are `created`) exist at seq."""
        import bisect

        return bisect.bisect_right(created, seq)


class BlobWriter:
    """Small blobs, written at the store's own paths (local files): without the store's fsync
    per blob (the building would take minutes more); through the store's `put` otherwise."""

    def __init__(self, installation: Any) -> None:
        self.installation = installation
        self.local = getattr(installation.blobs, "local_path", None)

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.local(digest) if self.local is not None else None
        if path is None:
            return self.installation.blobs.put(data)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        return digest


def analyze(installation: Any) -> None:
    """PostgreSQL: refresh the planner's statistics, as autovacuum does on a server that runs it
    (the local test server does not: without this, appends to tables the planner still thinks
    empty scan them whole, and the build slows to tens of events per second)."""
    if installation.db.engine.dialect.name == "postgresql":
        with installation.db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def build(data_dir: Path, database_url: str | None, total: int, early_fraction: float,
          seed: int = 12) -> Built:
    from gonk import service
    from gonk.domain import events as ev
    from gonk.installation import Installation
    from gonk.storage import datasets
    from gonk.storage.log import DatasetLog

    rng = random.Random(seed)
    installation = Installation.open(data_dir, database_url)
    blobs = BlobWriter(installation)
    built = Built()
    service.create_dataset(installation, USER, DATASET)
    schema_bytes = json.dumps(SCHEMA).encode()
    schema_digest = blobs.put(schema_bytes)
    schema_uuid = ev.new_uuid()
    with installation.db.write() as conn:
        log = DatasetLog.lock(conn, DATASET)
        created = log.append(ev.object_write(USER, ev.object_metadata(
            schema_uuid, 0, "schema-bench", ev.SCHEMA_FORMAT, len(schema_bytes), schema_digest)))
        log.append(ev.review(USER, created["uuid"], True))

    def object_bytes(i: int, version: int) -> bytes:
        return f"bench object {i} version {version} {rng.getrandbits(64):016x}\n".encode()

    def annotation_bytes(i: int, version: int) -> bytes:
        return json.dumps({"label": f"bird-{i}-v{version}", "score": i / 7}).encode()

    chunks = (total + CHUNK - 1) // CHUNK
    early_chunk = max(1, round(chunks * early_fraction))
    started = time.perf_counter()
    for c in range(chunks):
        indexes = range(c * CHUNK, min(total, (c + 1) * CHUNK))
        objs = [(i, ev.new_uuid(), object_bytes(i, 0)) for i in indexes]
        anns = [(i, ev.new_uuid(), annotation_bytes(i, 0)) for i in indexes]
        digests = {u: blobs.put(data) for _, u, data in objs + anns}
        with installation.db.write() as conn:
            log = DatasetLog.lock(conn, DATASET)
            creates = [log.append(ev.object_write(USER, ev.object_metadata(
                u, 0, f"images/{i:07d}.txt", "text/plain", len(data), digests[u])))["uuid"]
                for i, u, data in objs]
            for e in creates:
                log.append(ev.review(USER, e, True))
            creates = [log.append(ev.annotation_create(USER, ev.annotation_metadata(
                a, 0, schema_uuid, 0, len(data), digests[a]), [ev.identifier(o, 0)]))["uuid"]
                for (_, a, data), (_, o, _) in zip(anns, objs, strict=True)]
            for e in creates:
                log.append(ev.review(USER, e, True))
            seq = log.count
        built.objects += [u for _, u, _ in objs]
        built.annotations += [u for _, u, _ in anns]
        if c + 1 == early_chunk:
            built.early_seq = seq
        if (c + 1) & c == 0 or (c + 1) % 20 == 0:  # after chunks 1, 2, 4, 8... and every 20th
            analyze(installation)
        if (c + 1) % 10 == 0 or c + 1 == chunks:
            print(f"  ... {len(built.objects)} objects and annotations, {seq} events "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)

    # history: updates, deletes, rejections and pending changes, in random order
    picks = rng.sample(range(total), total)
    plan: list[tuple[str, int]] = []
    cursor = 0
    for what, share in [("object update", 0.02), ("object delete", 0.005),
                        ("object rejected", 0.002), ("object pending", 0.002)]:
        count = max(1, int(total * share))
        plan += [(what, i) for i in picks[cursor:cursor + count]]
        cursor += count
        built.history[what] = count
    annotation_picks = rng.sample(range(total), total)
    cursor = 0
    for what, share in [("annotation update", 0.01), ("annotation delete", 0.005)]:
        count = max(1, int(total * share))
        plan += [(what, i) for i in annotation_picks[cursor:cursor + count]]
        cursor += count
        built.history[what] = count
    rng.shuffle(plan)
    for start in range(0, len(plan), CHUNK):
        part = plan[start:start + CHUNK]
        data = {(what, i): (annotation_bytes(i, 1) if what.startswith("annotation")
                            else object_bytes(i, 1)) for what, i in part}
        digests = {key: blobs.put(value) for key, value in data.items()
                   if "delete" not in key[0]}
        with installation.db.write() as conn:
            log = DatasetLog.lock(conn, DATASET)
            for what, i in part:
                o, a = built.objects[i], built.annotations[i]
                size = len(data[(what, i)])
                if what == "annotation update":
                    event = ev.annotation_update(USER, ev.annotation_metadata(
                        a, 1, schema_uuid, 0, size, digests[(what, i)]))
                elif what == "annotation delete":
                    event = ev.annotation_delete(USER, a, 0)
                elif what == "object delete":
                    event = ev.object_delete(USER, o, 0)
                else:
                    event = ev.object_write(USER, ev.object_metadata(
                        o, 1, f"images/{i:07d}.txt", "text/plain", size, digests[(what, i)]))
                made = log.append(event)["uuid"]
                if what != "object pending":
                    log.append(ev.review(USER, made, what != "object rejected"))
            built.late_seq = log.count
    # a tail after LATE: new objects, left pending
    tail = max(1, total // 1000)
    objs = [(i, ev.new_uuid(), object_bytes(i, 0)) for i in range(total, total + tail)]
    digests = {u: blobs.put(content) for _, u, content in objs}
    with installation.db.write() as conn:
        log = DatasetLog.lock(conn, DATASET)
        for i, u, content in objs:
            log.append(ev.object_write(USER, ev.object_metadata(
                u, 0, f"images/{i:07d}.txt", "text/plain", len(content), digests[u])))
    built.history["pending tail creates"] = tail

    from sqlalchemy import select

    from gonk.storage import tables as t

    with installation.db.read() as conn:
        ds = datasets.get(conn, DATASET)
        built.events = list(conn.execute(select(t.events.c.uuid).where(
            t.events.c.dataset_id == ds.id).order_by(t.events.c.seq)).scalars())
    analyze(installation)
    installation.close()
    return built


# --- the server ---------------------------------------------------------------------------------

class Server:
    def __init__(self, data_dir: Path, key: str, workdir: Path, env: dict[str, str],
                 workers: int | None) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.session = requests.Session()
        self.session.headers["x-api-key"] = key
        argv = [*GONK, "--data-dir", str(data_dir), "serve", "--port", str(port),
                "--access-log", "", "--timeout", "600"]
        if workers:
            argv += ["--workers", str(workers)]
        self.log_path = workdir / "server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **env}, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.session.get(self.base + "/datasets", timeout=2)
                break
            except requests.RequestException:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited; see {self.log_path}") from None
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start")

    def workers(self) -> list[int]:
        return child_pids(self.proc.pid)

    def get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        resp = self.session.get(self.base + path, params=params, timeout=600)
        assert resp.status_code == 200, f"{path} {params}: {resp.status_code} {resp.text[:300]}"
        return resp

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


class MemoryWatch:
    """Resident memory of each worker, sampled from /proc every 10 ms while running."""

    def __init__(self, server: Server) -> None:
        self.pids = server.workers()
        self.before = {pid: status_kib(pid, "VmRSS") for pid in self.pids}
        self.hwm_before = {pid: status_kib(pid, "VmHWM") for pid in self.pids}
        self.cpu_before = {pid: cpu_ticks(pid) for pid in self.pids}
        self.peak = dict(self.before)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                try:
                    self.peak[pid] = max(self.peak[pid], status_kib(pid, "VmRSS"))
                except (OSError, AssertionError):
                    pass
            time.sleep(0.01)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = {pid: status_kib(pid, "VmRSS") for pid in self.pids}
        self.hwm_after = {pid: status_kib(pid, "VmHWM") for pid in self.pids}
        self.cpu_after = {pid: cpu_ticks(pid) for pid in self.pids}

    def cpu_seconds(self) -> float:
        """CPU time the busiest worker used meanwhile (user + system): unlike wall time, hardly
        changed by other programs sharing the machine."""
        return max(self.cpu_after[p] - self.cpu_before[p] for p in self.pids) / TICKS

    def report(self) -> tuple[str, float]:
        """The worker whose memory grew most: a line, and its growth in MiB."""
        pid = max(self.pids, key=lambda p: max(self.peak[p] - self.before[p],
                                               self.hwm_after[p] - self.hwm_before[p]))
        grew = max(self.peak[pid] - self.before[pid],
                   self.hwm_after[pid] - self.hwm_before[pid]) / 1024
        return (f"worker {pid}: RSS {self.before[pid] / 1024:.0f} -> peak "
                f"{self.peak[pid] / 1024:.0f} -> after {self.after[pid] / 1024:.0f} MiB; VmHWM "
                f"{self.hwm_before[pid] / 1024:.0f} -> {self.hwm_after[pid] / 1024:.0f} MiB"
                ), grew


def median_ms(server: Server, path: str, params: dict[str, Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        server.get(path, params)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSES"


# --- the measurements ---------------------------------------------------------------------------

def measure_release(server: Server, rounds: int) -> dict[str, Any]:
    print("\n== 1. POST /releases of the whole dataset (at the head)")
    path = f"/datasets/{DATASET}/releases"
    # warm every worker a little (imports, connection pools), as a server that has served
    for _ in range(3 * len(server.workers())):
        server.get(f"/datasets/{DATASET}/objects", {"limit": 10})
    release: dict[str, Any] = {}
    stamp = time.strftime("%H%M%S")  # unique names, for runs on a kept --workdir
    for r in range(rounds):
        with MemoryWatch(server) as watch:
            start = time.perf_counter()
            resp = server.session.post(server.base + path, json={
                "name": f"whole-{stamp}-{r}", "description": "the whole dataset"}, timeout=3600)
            seconds = time.perf_counter() - start
        assert resp.status_code == 200, resp.text
        release = resp.json() if r == 0 else release
        line, grew = watch.report()
        print(f"  release {r}: {seconds:6.2f} s ({verdict(seconds <= 10)}, target <= 10 s;"
              f" worker CPU {watch.cpu_seconds():.2f} s); memory +{grew:.0f} MiB "
              f"({verdict(grew < 100)}, target < 100): {line}")
    counts = release["counts"]
    print(f"  counts: {json.dumps(counts)}")
    print(f"  point: {release['at']['index'] + 1} events; manifest_sha256 "
          f"{release['manifest_sha256'][:16]}...")
    return release


def measure_manifest(server: Server, release: dict[str, Any], rounds: int) -> None:
    print("\n== 2. GET /releases/<name>/manifest, streamed (JSON Lines)")
    expected = sum(release["counts"][k] for k in ("objects", "schemas", "annotations"))
    for r in range(rounds):
        digest, lines, size = hashlib.sha256(), 0, 0
        with MemoryWatch(server) as watch:
            start = time.perf_counter()
            with server.session.get(f"{server.base}/datasets/{DATASET}/releases/"
                                    f"{release['name']}/manifest", stream=True,
                                    timeout=3600) as resp:
                headers = time.perf_counter() - start
                assert resp.status_code == 200, resp.text
                framing = ("chunked" if "Content-Length" not in resp.headers else
                           "NOT streamed: Content-Length set, so the server built the whole "
                           "body before its first byte")
                for chunk in resp.iter_content(None):
                    digest.update(chunk)
                    lines += chunk.count(b"\n")
                    size += len(chunk)
            seconds = time.perf_counter() - start
        same = digest.hexdigest() == release["manifest_sha256"]
        rate = lines / seconds
        _, grew = watch.report()
        print(f"  round {r}: {lines} lines ({size / 2**20:.1f} MiB) in {seconds:5.2f} s = "
              f"{rate:8.0f} lines/s ({verdict(rate >= 50_000)}, target >= 50,000; worker CPU "
              f"{watch.cpu_seconds():.2f} s = {lines / watch.cpu_seconds():.0f} lines/CPU-s); "
              f"headers after {headers * 1000:.0f} ms ({framing}); sha256 "
              f"{'= manifest_sha256' if same else 'DIFFERS from manifest_sha256'}; lines "
              f"{'= counts' if lines == expected else f'!= counts ({expected})'}; worker "
              f"memory +{grew:.0f} MiB")


def measure_as_of(server: Server, built: Built, created: dict[str, list[int]],
                  repeat: int) -> list[float]:
    print(f"\n== 3. pages of 100 at a point (?as_of=<event uuid>) vs the same page without "
          f"as_of (median of {repeat}; target ratio <= 2x)")
    base = f"/datasets/{DATASET}"
    lists = [("objects", base + "/objects", built.objects, created["objects"]),
             ("objects/accepted", base + "/objects/accepted", built.objects, created["objects"]),
             ("annotations", base + "/annotations", built.annotations, created["annotations"]),
             ("events", base + "/events", built.events, list(range(1, len(built.events) + 1)))]
    print(f"  {'list':17} {'point':6} {'page':7} {'no as_of':>9} {'as_of':>9} {'ratio':>6}"
          f"  rows")
    ratios = []
    for label, path, uuids, seqs in lists:
        for point_name, seq in (("early", built.early_seq), ("late", built.late_seq)):
            n = built.count_at(seq, seqs)  # how many existed at the point
            for page, after in (("first", None), ("middle", uuids[n // 2]),
                                ("last", uuids[n - 101])):
                params: dict[str, Any] = {"limit": 100}
                if after:
                    params["after"] = after
                at = {**params, "as_of": built.event_uuid(seq)}
                plain_s, at_s = [], []
                rows = len(server.get(path, at).json())
                for _ in range(repeat):  # alternate, so that drift hits both alike
                    plain_s.append(median_ms(server, path, params, 1))
                    at_s.append(median_ms(server, path, at, 1))
                plain, as_of = statistics.median(plain_s), statistics.median(at_s)
                ratios.append(as_of / plain)
                flag = "" if as_of / plain <= 2 else "  MISSES"
                print(f"  {label:17} {point_name:6} {page:7} {plain:7.1f}ms {as_of:7.1f}ms "
                      f"{as_of / plain:5.2f}x  {rows}{flag}")
    return ratios


def measure_diff(server: Server, built: Built, repeat: int) -> None:
    print(f"\n== 4. GET /diff?from=EARLY&to=LATE (median of {repeat})")
    path = f"/datasets/{DATASET}/diff"
    points = {"from": built.event_uuid(built.early_seq), "to": built.event_uuid(built.late_seq)}
    changes: list[dict[str, Any]] = []
    after = None
    start = time.perf_counter()
    pages = 0
    while True:
        page = server.get(path, {**points, "limit": 1000,
                                 **({"after": after} if after else {})}).json()
        pages += 1
        if not page:
            break
        changes += page
        after = page[-1]["uuid"]
    whole = time.perf_counter() - start
    kinds: dict[str, int] = {}
    for change in changes:
        key = f"{change['kind']} {change['change']}"
        kinds[key] = kinds.get(key, 0) + 1
    print(f"  the whole diff: {len(changes)} changes in {pages} pages of 1000, {whole:.1f} s "
          f"({len(changes) / whole:.0f} changes/s): "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    timings = {}
    for page, cursor in (("first", None), ("middle", changes[len(changes) // 2]["uuid"]),
                         ("last", changes[-101]["uuid"])):
        params = {**points, "limit": 100, **({"after": cursor} if cursor else {})}
        timings[page] = median_ms(server, path, params, repeat)
    first = timings["first"]
    print("  page of 100: " + ", ".join(
        f"{page} {ms:6.1f} ms ({ms / first:.2f}x)" for page, ms in timings.items()))
    # "what changed lately": few changes spread over the whole dataset, so a page reads items
    # until it has found `limit` changes (or reached the end)
    near = {"from": built.event_uuid(built.late_seq - 200), "to": points["to"], "limit": 100}
    found = len(server.get(path, near).json())
    ms = median_ms(server, path, near, 3)
    print(f"  the last 200 events (LATE-200 to LATE): {found} changes, first page {ms:.0f} ms "
          f"({ms / first:.0f}x the first page above)")
    same = {"from": points["to"], "to": points["to"], "limit": 100}
    ms = median_ms(server, path, same, 3)
    print(f"  no change at all (LATE to LATE): {ms:.0f} ms")


# --- the run ------------------------------------------------------------------------------------

def postgres_database(url: str) -> None:
    """Create the database named in `url` when it does not exist."""
    import psycopg

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"(created database {name})")


def machine() -> str:
    cpu = "unknown cpu"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=None,
                        help="objects (and as many annotations) [100000; --quick: 10000]")
    parser.add_argument("--quick", action="store_true", help="10,000 objects, fewer runs")
    parser.add_argument("--early", type=float, default=0.25,
                        help="EARLY: the end of this share of the objects [0.25]")
    parser.add_argument("--database-url", default=None,
                        help="an empty PostgreSQL database (made when missing), e.g. "
                             "postgresql://postgres@127.0.0.1:5432/gonk_bench_rel "
                             "[default: SQLite in the data directory]")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers [default: gonk-api serve's]")
    parser.add_argument("--repeat", type=int, default=None, help="runs per page timing [9; 5]")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the installation goes, kept; run again with the same "
                             "--workdir to measure it again without building [a temporary "
                             "directory, removed at the end]")
    args = parser.parse_args()
    total = args.objects or (10_000 if args.quick else 100_000)
    repeat = args.repeat or (5 if args.quick else 9)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gonk-bench-releases-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir, saved = workdir / "gonk-data", workdir / "built.json"
    kept = saved.exists()
    if kept:  # measure again what an earlier run with this --workdir built
        state = json.loads(saved.read_text())
        key, total, database_url = state.pop("key"), state.pop("total"), state.pop("database_url")
        built = Built(**state)
    else:
        database_url = args.database_url
    env = {"GONK_DATABASE_URL": database_url} if database_url else {}
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} (other programs "
          "running make wall times longer: see the workers' CPU seconds)")
    print(f"storage: {database_url or 'SQLite'} + local files, in {workdir}")
    server = None
    try:
        if not kept:
            if database_url:
                postgres_database(database_url)
            out = subprocess.run([*GONK, "--data-dir", str(data_dir), "init", "--username",
                                  USER], capture_output=True, text=True,
                                 env={**os.environ, **env})
            if out.returncode != 0:
                raise SystemExit(f"gonk-api init failed: {out.stderr.strip() or out.stdout}")
            key = out.stdout.strip().splitlines()[-1]
            print(f"\n== building {total} objects + {total} annotations, all accepted, then "
                  "history (in process, DatasetLog appends)")
            started = time.perf_counter()
            built = build(data_dir, database_url, total, args.early)
            print(f"  built in {time.perf_counter() - started:.0f} s")
            if args.workdir is not None:
                saved.write_text(json.dumps({"key": key, "total": total,
                                             "database_url": database_url,
                                             **built.__dict__}))
        print(f"  {total} objects, {total} annotations, {len(built.events)} events; EARLY = "
              f"event #{built.early_seq}, LATE = event #{built.late_seq}; history: "
              + ", ".join(f"{k} {v}" for k, v in built.history.items()))
        # creation positions of the objects and annotations, to know how many exist at a point
        created: dict[str, list[int]] = {"objects": [], "annotations": []}
        seq = 3  # OwnerAdd, schema create, its accept
        for start in range(0, total, CHUNK):
            size = min(CHUNK, total - start)
            created["objects"] += [seq + k + 1 for k in range(size)]
            created["annotations"] += [seq + 2 * size + k + 1 for k in range(size)]
            seq += 4 * size
        server = Server(data_dir, key, workdir, env, args.workers)
        print(f"server: gonk-api serve, {len(server.workers())} workers x 4 threads")
        release = measure_release(server, 1 if args.quick else 2)
        measure_manifest(server, release, 2)
        ratios = measure_as_of(server, built, created, repeat)
        print(f"  as_of / no as_of: median {statistics.median(ratios):.2f}x, worst "
              f"{max(ratios):.2f}x")
        measure_diff(server, built, repeat)
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        if server is not None:
            server.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
