"""Dataset statistics (GET /datasets/D/stats) on a large dataset of detection annotations,
against a real `gonk-api serve`; prints the request times. Tests never assert on time; this
script only prints.

    python bench/stats.py                  # 100,000 objects + 100,000 annotations (~8 min)
    python bench/stats.py --quick          # 10,000 of each (a minute)
    python bench/stats.py --database-url postgresql://postgres@127.0.0.1:5432/gonk_bench_stats
        # PostgreSQL: an empty database (created when it does not exist); blobs in local files
    python bench/stats.py --workdir /tmp/stats   # keeps the installation; run the same line
        # again to measure it again without building
    python bench/stats.py --plans ...      # also print the database's plan of each query

The dataset is built in this process as bench/releases.py builds its own (its helpers: blob
files written at the store's paths, DatasetLog appends through the rules, the chain and the
projection, many events per write transaction), with a detection schema (`x-gonk-kind`) and
one detection annotation per object (1 to 5 boxes of 20 classes), whose label counts are
passed to the append exactly as the service passes them. The log:

    OwnerAdd, schema create + accept,
    per chunk of 1,000 objects: creates, accepts, one annotation each, accepts
                                                           <- EARLY: the end of the first quarter
    history in random order: 2% of objects updated and accepted (their annotations go stale),
        1% of annotations updated and accepted, 0.5% of objects and of annotations deleted,
        0.2% of objects updated and rejected, 0.2% updated and left pending  <- LATE
    a tail of 0.1% new objects, left pending

The expected statistics are computed in Python from what was built and compared with the
server's answer (every count, the bytes against a release's, every label), then the request is
timed now, ?as_of=EARLY, ?as_of=LATE and ?as_of=<release name>.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
_spec = importlib.util.spec_from_file_location("bench_releases", HERE / "releases.py")
assert _spec is not None and _spec.loader is not None
relbench = importlib.util.module_from_spec(_spec)
sys.modules["bench_releases"] = relbench  # (its dataclasses look their module up)
_spec.loader.exec_module(relbench)

GONK = relbench.GONK
DATASET = "stats-bench"
USER = "bench"
CHUNK = 1000
CLASSES = [f"class-{i:02d}" for i in range(20)]


@dataclass
class Built:
    early_seq: int = 0
    late_seq: int = 0
    events: list[str] = field(default_factory=list)
    expected: dict[str, Any] = field(default_factory=dict)  # the stats at LATE and at the head
    history: dict[str, int] = field(default_factory=dict)


def detection(rng: random.Random) -> dict[str, Any]:
    # skewed class frequencies, so the order of the labels means something
    return {"boxes": [{"label": rng.choices(CLASSES, weights=range(20, 0, -1))[0],
                       "bbox": [rng.randint(0, 500), rng.randint(0, 500), rng.randint(1, 99),
                                rng.randint(1, 99)], "score": round(rng.random(), 3)}
                      for _ in range(rng.randint(1, 5))]}


def build(data_dir: Path, database_url: str | None, total: int, early_fraction: float,
          seed: int = 12) -> Built:
    from gonk import service
    from gonk.domain import content, label_kinds
    from gonk.domain import events as ev
    from gonk.installation import Installation
    from gonk.storage import datasets
    from gonk.storage.log import DatasetLog

    rng = random.Random(seed)
    installation = Installation.open(data_dir, database_url)
    blobs = relbench.BlobWriter(installation)
    built = Built()
    service.create_dataset(installation, USER, DATASET)
    schema_bytes = json.dumps(label_kinds.template(label_kinds.DETECTION)).encode()
    schema_uuid = ev.new_uuid()
    with installation.db.write() as conn:
        log = DatasetLog.lock(conn, DATASET)
        created = log.append(ev.object_write(USER, ev.object_metadata(
            schema_uuid, 0, "schema-boxes", ev.SCHEMA_FORMAT, len(schema_bytes),
            blobs.put(schema_bytes))))
        log.append(ev.review(USER, created["uuid"], True))

    def object_bytes(i: int, version: int) -> bytes:
        return f"bench object {i} version {version} {rng.getrandbits(64):016x}\n".encode()

    def labels(doc: dict[str, Any]) -> Any:
        return content.labels_of(label_kinds.DETECTION, doc)

    # what the content holds, to compute the expected statistics
    objects: list[str] = []
    annotations: list[str] = []
    object_size: list[int] = []  # the content version's size
    object_in: list[int | None] = []  # the content version (None: none)
    docs: list[dict[str, Any] | None] = []  # the annotation's content version's document
    items = {"objects": Counter(), "annotations": Counter()}  # status of the newest version

    chunks = (total + CHUNK - 1) // CHUNK
    early_chunk = max(1, round(chunks * early_fraction))
    started = time.perf_counter()
    for c in range(chunks):
        indexes = range(c * CHUNK, min(total, (c + 1) * CHUNK))
        objs = [(i, ev.new_uuid(), object_bytes(i, 0)) for i in indexes]
        anns = [(i, ev.new_uuid(), detection(rng)) for i in indexes]
        raw = {a: json.dumps(doc).encode() for _, a, doc in anns}
        digests = {u: blobs.put(data) for _, u, data in objs}
        digests.update({a: blobs.put(data) for a, data in raw.items()})
        with installation.db.write() as conn:
            log = DatasetLog.lock(conn, DATASET)
            creates = [log.append(ev.object_write(USER, ev.object_metadata(
                u, 0, f"images/{i:07d}.jpg", "image/jpeg", len(data), digests[u])))["uuid"]
                for i, u, data in objs]
            for e in creates:
                log.append(ev.review(USER, e, True))
            creates = [log.append(ev.annotation_create(USER, ev.annotation_metadata(
                a, 0, schema_uuid, 0, len(raw[a]), digests[a]), [ev.identifier(o, 0)]),
                labels(doc))["uuid"]
                for (_, a, doc), (_, o, _) in zip(anns, objs, strict=True)]
            for e in creates:
                log.append(ev.review(USER, e, True))
            seq = log.count
        objects += [u for _, u, _ in objs]
        object_size += [len(data) for _, _, data in objs]
        object_in += [0] * len(objs)
        annotations += [a for _, a, _ in anns]
        docs += [doc for _, _, doc in anns]
        if c + 1 == early_chunk:
            built.early_seq = seq
        if (c + 1) & c == 0 or (c + 1) % 20 == 0:
            relbench.analyze(installation)
        if (c + 1) % 10 == 0 or c + 1 == chunks:
            print(f"  ... {len(objects)} objects and annotations, {seq} events "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    items["objects"]["accepted"] = items["annotations"]["accepted"] = total
    annotation_size = [len(json.dumps(doc).encode()) for doc in docs]

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
        new_docs = {i: detection(rng) for what, i in part if what == "annotation update"}
        data = {(what, i): (json.dumps(new_docs[i]).encode() if what == "annotation update"
                            else object_bytes(i, 1))
                for what, i in part if "delete" not in what}
        digests = {key: blobs.put(value) for key, value in data.items()}
        with installation.db.write() as conn:
            log = DatasetLog.lock(conn, DATASET)
            for what, i in part:
                o, a = objects[i], annotations[i]
                if what == "annotation update":
                    size = len(data[(what, i)])
                    made = log.append(ev.annotation_update(USER, ev.annotation_metadata(
                        a, 1, schema_uuid, 0, size, digests[(what, i)])),
                        labels(new_docs[i]))["uuid"]
                    docs[i], annotation_size[i] = new_docs[i], size
                elif what == "annotation delete":
                    made = log.append(ev.annotation_delete(USER, a, 0))["uuid"]
                    docs[i] = None
                    items["annotations"]["accepted"] -= 1
                    items["annotations"]["deleted"] += 1
                elif what == "object delete":
                    made = log.append(ev.object_delete(USER, o, 0))["uuid"]
                    object_in[i] = None
                    items["objects"]["accepted"] -= 1
                    items["objects"]["deleted"] += 1
                else:
                    size = len(data[(what, i)])
                    made = log.append(ev.object_write(USER, ev.object_metadata(
                        o, 1, f"images/{i:07d}.jpg", "image/jpeg", size,
                        digests[(what, i)])))["uuid"]
                    items["objects"]["accepted"] -= 1
                    if what == "object update":
                        object_in[i], object_size[i] = 1, size
                        items["objects"]["accepted"] += 1
                    elif what == "object rejected":
                        items["objects"]["rejected"] += 1
                    else:
                        items["objects"]["pending"] += 1
                if what != "object pending":
                    log.append(ev.review(USER, made, what != "object rejected"))
            built.late_seq = log.count
    built.expected["late"] = expected(total, schema_bytes, object_in, object_size, docs,
                                      annotation_size, items)
    tail = max(1, total // 1000)
    tail_objects = [(i, ev.new_uuid(), object_bytes(i, 0)) for i in range(total, total + tail)]
    digests = {u: blobs.put(data) for _, u, data in tail_objects}
    with installation.db.write() as conn:
        log = DatasetLog.lock(conn, DATASET)
        for i, u, data in tail_objects:
            log.append(ev.object_write(USER, ev.object_metadata(
                u, 0, f"images/{i:07d}.jpg", "image/jpeg", len(data), digests[u])))
    items["objects"]["pending"] += tail
    built.history["pending tail creates"] = tail
    built.expected["head"] = expected(total, schema_bytes, object_in, object_size, docs,
                                      annotation_size, items)

    from sqlalchemy import select

    from gonk.storage import tables as t

    with installation.db.read() as conn:
        ds = datasets.get(conn, DATASET)
        built.events = list(conn.execute(select(t.events.c.uuid).where(
            t.events.c.dataset_id == ds.id).order_by(t.events.c.seq)).scalars())
    relbench.analyze(installation)
    installation.close()
    return built


def expected(total: int, schema_bytes: bytes, object_in: list[int | None],
             object_size: list[int], docs: list[dict[str, Any] | None],
             annotation_size: list[int], items: dict[str, Counter[str]]) -> dict[str, Any]:
    """The statistics the server must answer, from what was built (each annotation links to
    version 0 of its object: stale once that object was updated or deleted)."""
    labels: Counter[str] = Counter()
    size = len(schema_bytes)
    annotated = 0
    for i in range(total):
        if object_in[i] is not None:
            size += object_size[i]
        doc = docs[i]
        if doc is not None and object_in[i] == 0:
            size += annotation_size[i]
            annotated += 1
            labels.update(box["label"] for box in doc["boxes"])
    def statuses(counter: Counter[str]) -> dict[str, int]:
        return {w: counter[w] for w in ("accepted", "pending", "deleted", "rejected")}

    return {"objects": statuses(items["objects"]),
            "schemas": {"accepted": 1, "pending": 0, "deprecated": 0, "rejected": 0},
            "annotations": statuses(items["annotations"]), "bytes": size,
            "annotated_objects": annotated,
            "labels": [{"schema": "schema-boxes", "kind": "detection", "label": label,
                        "count": count}
                       for label, count in sorted(labels.items(), key=lambda e: (-e[1], e[0]))]}


def check(answer: dict[str, Any], wanted: dict[str, Any], what: str) -> None:
    got = {k: v for k, v in answer.items() if k not in ("dataset", "at")}
    if got != wanted:
        wrong = [k for k in wanted if got.get(k) != wanted[k]]
        raise SystemExit(f"{what}: the statistics differ from what was built in {wrong}: "
                         f"{json.dumps({k: got.get(k) for k in wrong})[:2000]} != "
                         f"{json.dumps({k: wanted[k] for k in wrong})[:2000]}")
    print(f"  {what}: every count, the bytes and the {len(got['labels'])} labels are as built")


def timed(server: Any, params: dict[str, Any], repeat: int) -> tuple[float, float, float]:
    """(median ms, min ms, worker CPU seconds per request)."""
    samples = []
    with relbench.MemoryWatch(server) as watch:
        for _ in range(repeat):
            start = time.perf_counter()
            server.get(f"/datasets/{DATASET}/stats", params)
            samples.append(time.perf_counter() - start)
    return (statistics.median(samples) * 1000, min(samples) * 1000,
            watch.cpu_seconds() / repeat)


def plans(data_dir: Path, database_url: str | None, at: int) -> None:
    """Each statistics query, run in process, with its time and the database's plan."""
    from sqlalchemy import event

    from gonk import stats
    from gonk.installation import Installation

    installation = Installation.open(data_dir, database_url)
    seen: list[tuple[str, Any, float]] = []
    starts: list[float] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        starts.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
              executemany: bool) -> None:
        seen.append((statement, parameters, time.perf_counter() - starts.pop()))

    engine = installation.db.engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        for point in (None, at):
            seen.clear()
            stats.dataset_stats(installation, DATASET, None if point is None else
                                event_uuid_at(installation, point))
            print(f"\n  queries of one request ({'now' if point is None else 'as of LATE'}):")
            for statement, parameters, seconds in seen:
                flat = " ".join(statement.split())
                print(f"  {seconds * 1000:8.1f} ms  {flat[:150]}")
                if point is None or "FROM versions" not in statement:
                    continue
                with engine.connect() as conn:
                    raw = conn.connection.cursor()
                    if engine.dialect.name == "sqlite":
                        raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                        lines = [row[3] for row in raw.fetchall()]
                    else:
                        raw.execute(f"EXPLAIN {statement}", parameters)
                        lines = [row[0] for row in raw.fetchall()]
                for line in lines:
                    print(f"               {line}")
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        installation.close()


def event_uuid_at(installation: Any, seq: int) -> str:
    from gonk.storage import datasets, reads

    with installation.db.read() as conn:
        found = reads.event_at(conn, datasets.get(conn, DATASET).id, seq)
    assert found is not None
    return found[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=None,
                        help="objects (and as many annotations) [100000; --quick: 10000]")
    parser.add_argument("--quick", action="store_true", help="10,000 objects")
    parser.add_argument("--database-url", default=None,
                        help="an empty PostgreSQL database (made when missing) [default: "
                             "SQLite in the data directory]")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers [default: gonk-api serve's]")
    parser.add_argument("--repeat", type=int, default=9, help="requests per timing [9]")
    parser.add_argument("--plans", action="store_true",
                        help="also print each query's time and plan (run in process)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the installation goes, kept; run again with the same "
                             "--workdir to measure it again without building [a temporary "
                             "directory, removed at the end]")
    args = parser.parse_args()
    total = args.objects or (10_000 if args.quick else 100_000)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gonk-bench-stats-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir, saved = workdir / "gonk-data", workdir / "built.json"
    kept = saved.exists()
    if kept:
        state = json.loads(saved.read_text())
        key, total, database_url = state.pop("key"), state.pop("total"), state.pop("database_url")
        built = Built(**state)
    else:
        database_url = args.database_url
    env = {"GONK_DATABASE_URL": database_url} if database_url else {}
    print(f"machine: {relbench.machine()}; load average {os.getloadavg()[0]:.1f}")
    print(f"storage: {database_url or 'SQLite'} + local files, in {workdir}")
    server = None
    try:
        if not kept:
            if database_url:
                relbench.postgres_database(database_url)
            out = subprocess.run([*GONK, "--data-dir", str(data_dir), "init", "--username",
                                  USER], capture_output=True, text=True,
                                 env={**os.environ, **env})
            if out.returncode != 0:
                raise SystemExit(f"gonk-api init failed: {out.stderr.strip() or out.stdout}")
            key = out.stdout.strip().splitlines()[-1]
            print(f"\n== building {total} objects + {total} detection annotations, all "
                  "accepted, then history (in process, DatasetLog appends)")
            started = time.perf_counter()
            built = build(data_dir, database_url, total, 0.25)
            print(f"  built in {time.perf_counter() - started:.0f} s")
            if args.workdir is not None:
                saved.write_text(json.dumps({"key": key, "total": total,
                                             "database_url": database_url,
                                             **built.__dict__}))
        print(f"  {total} objects, {total} annotations, {len(built.events)} events; EARLY = "
              f"event #{built.early_seq}, LATE = event #{built.late_seq}; history: "
              + ", ".join(f"{k} {v}" for k, v in built.history.items()))
        server = relbench.Server(data_dir, key, workdir, env, args.workers)
        print(f"server: gonk-api serve, {len(server.workers())} workers x 4 threads")
        for _ in range(3 * len(server.workers())):  # warm every worker a little
            server.get(f"/datasets/{DATASET}/objects", {"limit": 10})
        print("\n== correctness against what was built")
        late = built.events[built.late_seq - 1]
        check(server.get(f"/datasets/{DATASET}/stats").json(), built.expected["head"], "now")
        check(server.get(f"/datasets/{DATASET}/stats", {"as_of": late}).json(),
              built.expected["late"], "as of LATE")
        name = f"stats-{time.strftime('%H%M%S')}"
        release = server.session.post(f"{server.base}/datasets/{DATASET}/releases",
                                      json={"name": name, "at": late}, timeout=3600).json()
        by_name = server.get(f"/datasets/{DATASET}/stats", {"as_of": name}).json()
        assert by_name["bytes"] == release["counts"]["bytes"], (by_name, release["counts"])
        assert by_name["at"] == release["at"]
        print(f"  as of release {name}: bytes = the release's counts.bytes "
              f"({release['counts']['bytes']})")
        print(f"\n== GET /datasets/{DATASET}/stats (median of {args.repeat}; the worker's CPU "
              "per request)")
        for what, params in (("now", {}),
                             ("?as_of=EARLY", {"as_of": built.events[built.early_seq - 1]}),
                             ("?as_of=LATE", {"as_of": late}),
                             ("?as_of=<release>", {"as_of": name})):
            median, best, cpu = timed(server, params, args.repeat)
            print(f"  {what:18} median {median:7.1f} ms, best {best:7.1f} ms, worker CPU "
                  f"{cpu * 1000:6.1f} ms")
        if args.plans:
            plans(data_dir, database_url, built.late_seq)
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        if server is not None:
            server.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
