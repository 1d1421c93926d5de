"""Gonk benchmarks: real servers driven over HTTP by one client program; prints figures.

    python bench/bench.py                 # everything (the flat-growth run takes a while)
    python bench/bench.py --quick         # smaller counts, a couple of minutes
    python bench/bench.py --reference-venv /path/to/venv   # venv with gonk-ai==0.1.4

Compares, in one run and with the same client:
- `gonk-api serve` against the ceiling app (bench/ceiling_app.py under gunicorn), 8 clients;
- `gonk-api serve` (8 clients) against the earlier implementation gonk-ai 0.1.4 (1 client, its
  development server) for 1 KiB object creates, annotation creates and event accepts;
- 1 KiB creates into one dataset vs spread over one dataset per client;
- paging through every event of a 4,000-event dataset, both servers;
- flat growth: first vs last thousand creates and first/middle/last page fetches in a large
  dataset of objects with annotations.
Tests never assert on time; this script only prints.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

# Run as a script (python bench/bench.py), so the repository root is not on the path: put it
# there for the helpers bench shares with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.processes import free_port

BENCH_DIR = Path(__file__).resolve().parent
GONK = [sys.executable, "-c", "from gonk.cli import main; main()"]
SCHEMA = {"type": "object", "properties": {"label": {"type": "string"},
                                           "score": {"type": "number"}},
          "required": ["label"]}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Server:
    def __init__(self, name: str, argv: list[str], base: str, key: str, cwd: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name, self.base, self.key = name, base, key
        self.log = open(cwd / f"{name}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(base + "/datasets", headers=self.headers, timeout=2)
                return
            except requests.RequestException:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{name} exited; see {cwd / (name + '.log')}") from None
                time.sleep(0.2)
        raise RuntimeError(f"{name} did not start")

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key}

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


STORAGE_ENV: dict[str, str] = {}  # GONK_DATABASE_URL / GONK_BLOB_URL for gonk, from the options


def start_gonk(workdir: Path, workers: int | None) -> Server:
    data = workdir / "gonk-data"
    out = subprocess.run([*GONK, "--data-dir", str(data), "init", "--username", "bench"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, **STORAGE_ENV})
    key = out.stdout.strip().splitlines()[-1]
    port = free_port()
    argv = [*GONK, "--data-dir", str(data), "serve", "--port", str(port), "--access-log", ""]
    if workers:
        argv += ["--workers", str(workers)]
    return Server("gonk", argv, f"http://127.0.0.1:{port}", key, workdir, STORAGE_ENV)


def start_ceiling(workdir: Path, workers: int) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--chdir", str(BENCH_DIR), "-w", str(workers),
            "--threads", "4", "-k", "gthread", "-b", f"127.0.0.1:{port}", "ceiling_app:app"]
    return Server("ceiling", argv, f"http://127.0.0.1:{port}", "unused", workdir,
                  {"CEILING_DIR": str(workdir / "ceiling-data")})


def start_reference(workdir: Path, venv: Path) -> Server | None:
    """gonk-ai 0.1.4 (its dev server always listens on 127.0.0.1:5000, data in ./root)."""
    exe = venv / "bin" / "gonk-api"
    if not exe.exists():
        print(f"  (no reference implementation at {exe}: install it with "
              f"`python3 -m venv {venv} && {venv}/bin/pip install gonk-ai==0.1.4`)")
        return None
    refdir = workdir / "reference"
    refdir.mkdir()
    out = subprocess.run([str(exe), "init", "--username", "bench"], cwd=refdir,
                         capture_output=True, text=True, check=True)
    key = next(line.split("KEY:", 1)[1].strip() for line in out.stdout.splitlines()
               if "KEY:" in line)
    return Server("reference", [str(exe), "run"], "http://127.0.0.1:5000", key, refdir)


# --- the client -------------------------------------------------------------------------------


def drive(server: Server, clients: int, count: int,
          one: Callable[[requests.Session, int], requests.Response]) -> dict[str, Any]:
    """Run `count` requests from `clients` threads (each with its own connection); return the
    rate of successful ones and the errors."""
    sessions = threading.local()
    errors: list[str] = []
    ok = 0
    lock = threading.Lock()

    def task(i: int) -> None:
        nonlocal ok
        if not hasattr(sessions, "s"):
            sessions.s = requests.Session()
            sessions.s.headers.update(server.headers)
        try:
            resp = one(sessions.s, i)
            good = resp.status_code == 200
            detail = f"{resp.status_code} {resp.text[:80]}"
        except requests.RequestException as exc:
            good, detail = False, type(exc).__name__
        with lock:
            if good:
                ok += 1
            else:
                errors.append(detail)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(task, range(count)))
    elapsed = time.perf_counter() - start
    return {"rate": ok / elapsed, "ok": ok, "errors": len(errors), "seconds": elapsed,
            "sample_error": errors[0] if errors else ""}


def make_dataset(server: Server, name: str) -> None:
    resp = requests.post(f"{server.base}/datasets", json={"name": name},
                         headers=server.headers, timeout=30)
    assert resp.status_code == 200, resp.text


def create_objects(server: Server, dataset: str | list[str], clients: int, count: int,
                   size: int = 1024, tag: str = "") -> dict[str, Any]:
    """`count` creates into `dataset`, or round-robin into each of a list of datasets."""
    uuids: list[str] = []
    datasets = [dataset] if isinstance(dataset, str) else dataset

    def one(session: requests.Session, i: int) -> requests.Response:
        data = os.urandom(size)
        resp = session.post(f"{server.base}/datasets/{datasets[i % len(datasets)]}/objects",
                            json={"name": f"{tag}{i}.bin", "mimetype": "application/octet-stream",
                                  "object": b64(data)}, timeout=120)
        if resp.status_code == 200:
            uuids.append(resp.json()["uuid"])
        return resp

    result = drive(server, clients, count, one)
    result["uuids"] = uuids
    return result


def create_annotations(server: Server, dataset: str, objects: list[str], clients: int,
                       count: int) -> dict[str, Any]:
    def one(session: requests.Session, i: int) -> requests.Response:
        doc = {"label": f"bird-{i}", "score": i / 7}
        return session.post(f"{server.base}/datasets/{dataset}/annotations", json={
            "schema": {"name": "schema-bench", "version": 0},
            "object_identifiers": [{"uuid": objects[i % len(objects)], "version": 0}],
            "annotation": b64(json.dumps(doc).encode())}, timeout=120)

    return drive(server, clients, count, one)


def accept_events(server: Server, dataset: str, event_uuids: list[str],
                  clients: int) -> dict[str, Any]:
    def one(session: requests.Session, i: int) -> requests.Response:
        return session.put(f"{server.base}/datasets/{dataset}/events/{event_uuids[i]}/accept",
                           timeout=120)

    return drive(server, clients, len(event_uuids), one)


def all_events(server: Server, dataset: str, limit: int | None = None) -> tuple[list, float]:
    """Page through every event with `after`, as a seed client does; return them and seconds."""
    session = requests.Session()
    session.headers.update(server.headers)
    events: list[dict[str, Any]] = []
    after = None
    start = time.perf_counter()
    while True:
        params: dict[str, Any] = {}
        if after:
            params["after"] = after
        if limit:
            params["limit"] = limit
        page = session.get(f"{server.base}/datasets/{dataset}/events", params=params,
                           timeout=300).json()
        if not page:
            break
        events += page
        after = page[-1]["uuid"]
    return events, time.perf_counter() - start


def create_schema(server: Server, dataset: str) -> None:
    resp = requests.post(f"{server.base}/datasets/{dataset}/schemas", headers=server.headers,
                         json={"name": "schema-bench", "schema": b64(json.dumps(SCHEMA).encode())},
                         timeout=30)
    assert resp.status_code == 200, resp.text


def fmt(result: dict[str, Any]) -> str:
    text = f"{result['rate']:8.1f}/s ({result['ok']} ok"
    if result["errors"]:
        text += f", {result['errors']} failed, e.g. {result['sample_error']!r}"
    return text + ")"


# --- scenarios --------------------------------------------------------------------------------


def writes_side_by_side(gonk: Server, ceiling: Server, reference: Server | None, clients: int,
                        n: int, ref_n: int) -> None:
    print(f"\n== 1 KiB object creates ({clients} concurrent clients unless noted)")
    make_dataset(gonk, "creates")
    ceiling_r = create_objects(ceiling, "any", clients, n)
    gonk_r = create_objects(gonk, "creates", clients, n)
    print(f"  ceiling app           {fmt(ceiling_r)}")
    print(f"  gonk-api serve        {fmt(gonk_r)}")
    print(f"  gonk / ceiling        {gonk_r['rate'] / ceiling_r['rate']:8.2f}  (target >= 0.60)")
    ref1 = ref8 = None
    if reference:
        make_dataset(reference, "creates")
        ref1 = create_objects(reference, "creates", 1, ref_n, tag="a")
        ref8 = create_objects(reference, "creates", clients, ref_n, tag="b")
        print(f"  gonk-ai 0.1.4, 1 client  {fmt(ref1)}")
        print(f"  gonk-ai 0.1.4, {clients} clients {fmt(ref8)}")
        print(f"  gonk ({clients}) / gonk-ai (1) {gonk_r['rate'] / ref1['rate']:8.1f}x  "
              "(target >= 8x)")

    print("\n== annotation creates, validated against a schema")
    for server in [gonk] + ([reference] if reference else []):
        dataset = "annotate"
        make_dataset(server, dataset)
        create_schema(server, dataset)
    objs = create_objects(gonk, "annotate", clients, 200, tag="o")["uuids"]
    gonk_a = create_annotations(gonk, "annotate", objs, clients, n)
    print(f"  gonk-api serve        {fmt(gonk_a)}")
    if reference:
        ref_objs = create_objects(reference, "annotate", 1, 50, tag="o")["uuids"]
        ref_a = create_annotations(reference, "annotate", ref_objs, 1, ref_n)
        print(f"  gonk-ai 0.1.4, 1 client  {fmt(ref_a)}  (it does not validate at all)")
        print(f"  gonk ({clients}) / gonk-ai (1) {gonk_a['rate'] / ref_a['rate']:8.1f}x  "
              "(target >= 8x)")

    print("\n== event accepts")
    pending = [e["uuid"] for e in all_events(gonk, "creates", 1000)[0]
               if e["type"] == "ObjectCreateEvent"][:n]
    gonk_acc = accept_events(gonk, "creates", pending, clients)
    print(f"  gonk-api serve        {fmt(gonk_acc)}")
    if reference:
        ref_pending = [e["uuid"] for e in all_events(reference, "creates")[0]
                       if e["type"] == "ObjectCreateEvent"][:ref_n]
        ref_acc = accept_events(reference, "creates", ref_pending, 1)
        print(f"  gonk-ai 0.1.4, 1 client  {fmt(ref_acc)}")
        print(f"  gonk ({clients}) / gonk-ai (1) {gonk_acc['rate'] / ref_acc['rate']:8.1f}x  "
              "(target >= 8x)")


def spread_creates(gonk: Server, clients: int, n: int) -> None:
    """The same creates into one dataset, then spread over one dataset per client. On SQLite
    every write takes the file's one write lock either way; on PostgreSQL each dataset has its
    own row lock, so writes to different datasets need not wait for each other."""
    print(f"\n== 1 KiB object creates, {clients} clients: one dataset vs {clients} datasets")
    names = [f"spread-{k}" for k in range(clients)]
    for name in ["single", *names]:
        make_dataset(gonk, name)
    single = create_objects(gonk, "single", clients, n)
    spread = create_objects(gonk, names, clients, n)
    print(f"  one dataset           {fmt(single)}")
    print(f"  {clients} datasets            {fmt(spread)}")
    print(f"  {clients} datasets / one      {spread['rate'] / single['rate']:8.2f}")


def wrk_creates(gonk: Server, ceiling: Server, connections: int, seconds: int) -> None:
    """The same 1 KiB creates driven by wrk (a C load generator, far lighter than the Python
    client), so the figures show more of each server's own limit."""
    print(f"\n== 1 KiB object creates driven by wrk ({connections} connections, {seconds} s each)")
    wrk = shutil.which("wrk")
    if wrk is None:
        print("  (wrk is not installed: `apt-get install wrk` to run this part)")
        return
    rates = {}
    for server, dataset in [(ceiling, "any"), (gonk, "wrk")]:
        if server is gonk:
            make_dataset(gonk, dataset)
        out = subprocess.run(
            [wrk, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
             "-s", str(BENCH_DIR / "wrk_creates.lua"), server.base],
            capture_output=True, text=True, check=True,
            env={**os.environ, "GONK_API_KEY": server.key,
                 "WRK_PATH": f"/datasets/{dataset}/objects"})
        rate = next(float(line.split()[1]) for line in out.stdout.splitlines()
                    if line.startswith("Requests/sec:"))
        # wrk counts every response in its rate; report the ones that were not a 2xx
        failed = sum(int(line.rsplit(":", 1)[1]) for line in out.stdout.splitlines()
                     if line.strip().startswith("Non-2xx or 3xx responses:"))
        p50 = next((line.split()[1] for line in out.stdout.splitlines()
                    if line.strip().startswith("50%")), "?")
        rates[server.name] = rate
        print(f"  {server.name:20}  {rate:8.1f}/s  (median latency {p50}"
              f"{f', {failed} non-2xx' if failed else ''})")
    print(f"  gonk / ceiling        {rates['gonk'] / rates['ceiling']:8.2f}  (target >= 0.60)")


def large_object(workdir: Path, size_mib: int) -> None:
    """Stream one large object up and down through one worker; report the speed and how much
    the worker's peak resident memory grew (the issue's limit: under 100 MiB for 1 GiB)."""
    import hashlib
    import random

    # its own installation: SQLite in a data directory, and the bench's blob store (files or S3)
    env = {k: v for k, v in STORAGE_ENV.items() if k == "GONK_BLOB_URL"}
    where = env.get("GONK_BLOB_URL", "local files")
    print(f"\n== one {size_mib} MiB object, streamed up and down (1 worker, 1 thread; bytes in "
          f"{where})")
    if "GONK_BLOB_URL" in env:
        env["GONK_BLOB_URL"] += "-large"
    data = workdir / "large-data"
    out = subprocess.run([*GONK, "--data-dir", str(data), "init", "--username", "bench"],
                         capture_output=True, text=True, check=True, env={**os.environ, **env})
    key = out.stdout.strip().splitlines()[-1]
    port = free_port()
    server = Server("gonk-large", [*GONK, "--data-dir", str(data), "serve", "--port", str(port),
                                   "--workers", "1", "--threads", "1", "--access-log", ""],
                    f"http://127.0.0.1:{port}", key, workdir, env)
    try:
        worker = int(Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
                     .read_text().split()[0])

        def peak_mib() -> float:
            for line in Path(f"/proc/{worker}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
            raise RuntimeError("no VmHWM")

        make_dataset(server, "large")
        url = f"{server.base}/datasets/large/objects"
        small = requests.post(url, params={"name": "warm.bin"}, data=b"warm up",
                              headers={**server.headers, "Content-Type": "video/mp4"}, timeout=60)
        requests.get(f"{url}/{small.json()['uuid']}/0/bytes", headers=server.headers, timeout=60)
        before = peak_mib()
        sent = hashlib.sha256()

        def chunks():
            rng = random.Random(7)
            for _ in range(size_mib):
                chunk = rng.randbytes(1024 * 1024)
                sent.update(chunk)
                yield chunk

        started = time.perf_counter()
        resp = requests.post(url, params={"name": "large.bin"}, data=chunks(), timeout=3600,
                             headers={**server.headers, "Content-Type": "video/mp4"})
        up = time.perf_counter() - started
        assert resp.status_code == 200, resp.text
        after_up = peak_mib()
        got, size = hashlib.sha256(), 0
        started = time.perf_counter()
        with requests.get(f"{url}/{resp.json()['uuid']}/0/bytes", headers=server.headers,
                          stream=True, timeout=3600) as down:
            for chunk in down.iter_content(1024 * 1024):
                got.update(chunk)
                size += len(chunk)
        down_s = time.perf_counter() - started
        after_down = peak_mib()
        same = got.hexdigest() == sent.hexdigest() and size == size_mib * 1024 * 1024
        print(f"  upload   {up:6.1f} s ({size_mib / up:6.0f} MiB/s); worker peak memory "
              f"{before:.0f} -> {after_up:.0f} MiB (+{after_up - before:.0f} MiB, limit +100)")
        print(f"  download {down_s:6.1f} s ({size_mib / down_s:6.0f} MiB/s); worker peak memory "
              f"{after_up:.0f} -> {after_down:.0f} MiB (+{after_down - before:.0f} MiB in all); "
              f"bytes {'identical' if same else 'DIFFERENT'}")
    finally:
        server.stop()


def paging(gonk: Server, reference: Server | None, clients: int, events: int) -> None:
    print(f"\n== paging through every event of a {events}-event dataset (seed client: `after` "
          "only, each server's default page size)")
    timings = {}
    for server in [gonk] + ([reference] if reference else []):
        make_dataset(server, "paging")
        # the earlier implementation fails under concurrency: fill it with one client
        create_objects(server, "paging", clients if server is gonk else 1, events - 1)
        got, seconds = all_events(server, "paging")
        timings[server.name] = seconds
        print(f"  {server.name:10} {len(got):6} events in {seconds:7.2f} s")
    got, seconds = all_events(gonk, "paging", 1000)
    print(f"  gonk with limit=1000: {len(got)} events in {seconds:.2f} s")
    if reference:
        print(f"  gonk-ai / gonk        {timings['reference'] / timings['gonk']:8.1f}x faster  "
              "(target >= 25x)")


def page_time(server: Server, path: str, params: dict[str, Any], repeat: int = 15) -> float:
    session = requests.Session()
    session.headers.update(server.headers)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        resp = session.get(server.base + path, params=params, timeout=60)
        samples.append(time.perf_counter() - start)
        assert resp.status_code == 200, resp.text
    return statistics.median(samples)


def flat_growth(gonk: Server, clients: int, total: int) -> None:
    print(f"\n== flat as data grows: {total} objects, each with an annotation")
    dataset = "growth"
    make_dataset(gonk, dataset)
    create_schema(gonk, dataset)
    first = create_objects(gonk, dataset, clients, 1000, tag="first")
    create_annotations(gonk, dataset, first["uuids"], clients, 1000)
    objects = list(first["uuids"])
    done = 1000
    batch = 5000
    started = time.perf_counter()
    while done < total - 1000:
        step = min(batch, total - 1000 - done)
        made = create_objects(gonk, dataset, clients, step, tag=f"fill{done}-")
        create_annotations(gonk, dataset, made["uuids"], clients, len(made["uuids"]))
        objects += made["uuids"]
        done += step
        print(f"  ... {done} objects ({time.perf_counter() - started:.0f} s)", flush=True)
    last = create_objects(gonk, dataset, clients, 1000, tag="last")
    create_annotations(gonk, dataset, last["uuids"], clients, 1000)
    objects += last["uuids"]
    print(f"  first 1000 creates    {fmt(first)}")
    print(f"  last 1000 creates     {fmt(last)}")
    print(f"  last / first time     {first['rate'] / last['rate']:8.2f}  (target <= 1.5)")

    base = f"/datasets/{dataset}"
    events, _ = all_events(gonk, dataset, 1000)
    annotations = []
    after = None
    while True:
        page = requests.get(gonk.base + base + "/annotations", headers=gonk.headers,
                            params={"limit": 1000, **({"after": after} if after else {})}).json()
        if not page:
            break
        annotations += [a["uuid"] for a in page]
        after = page[-1]["uuid"]
    for label, path, ids in [("objects", base + "/objects", objects),
                             ("annotations", base + "/annotations", annotations),
                             ("events", base + "/events", [e["uuid"] for e in events])]:
        first_t = page_time(gonk, path, {"limit": 100})
        middle_t = page_time(gonk, path, {"limit": 100, "after": ids[len(ids) // 2]})
        last_t = page_time(gonk, path, {"limit": 100, "after": ids[-101]})
        print(f"  {label:11} page of 100: first {first_t * 1000:6.1f} ms, middle "
              f"{middle_t * 1000:6.1f} ms ({middle_t / first_t:.2f}x), last "
              f"{last_t * 1000:6.1f} ms ({last_t / first_t:.2f}x)  (target <= 1.5x)")
    pending = base + "/objects/pending"
    first_t = page_time(gonk, pending, {"limit": 100})
    last_t = page_time(gonk, pending, {"limit": 100, "after": objects[-101]})
    print(f"  objects/pending page: first {first_t * 1000:6.1f} ms, last {last_t * 1000:6.1f} "
          f"ms ({last_t / first_t:.2f}x)")


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers for gonk and the ceiling [default: gonk's]")
    parser.add_argument("--reference-venv", type=Path,
                        default=Path(os.environ.get("GONK_REFERENCE_VENV", "/tmp/refvenv")))
    parser.add_argument("--flat-objects", type=int, default=None,
                        help="objects for the flat-growth run [100000; --quick: 5000; 0 skips]")
    parser.add_argument("--database-url", default=None,
                        help="run gonk on this database (an empty one: the bench runs init), "
                             "e.g. postgresql://postgres@127.0.0.1/bench [default: SQLite]")
    parser.add_argument("--blob-url", default=None,
                        help="run gonk on this blob store, e.g. s3://bucket/prefix (AWS_* "
                             "variables give the endpoint) [default: files]")
    parser.add_argument("--large-mib", type=int, default=None,
                        help="size of the streamed large object [1024; --quick: 256; 0 skips]")
    parser.add_argument("--wrk-seconds", type=int, default=None,
                        help="length of each wrk run [20; --quick: 5]")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["writes", "spread", "wrk", "paging", "large", "flat"])
    args = parser.parse_args()
    n = 300 if args.quick else 2000
    ref_n = 60 if args.quick else 200
    flat = args.flat_objects if args.flat_objects is not None else (
        5000 if args.quick else 100_000)
    large = args.large_mib if args.large_mib is not None else (256 if args.quick else 1024)
    wrk_seconds = args.wrk_seconds or (5 if args.quick else 20)
    from gonk.server import default_workers

    workers = args.workers or default_workers()
    if args.database_url:
        STORAGE_ENV["GONK_DATABASE_URL"] = args.database_url
    if args.blob_url:
        STORAGE_ENV["GONK_BLOB_URL"] = args.blob_url
    print(f"machine: {machine()}")
    print(f"gonk storage: {args.database_url or 'SQLite'} + {args.blob_url or 'local files'}"
          " (the ceiling app: SQLite + local files)")
    print(f"gonk-api serve and the ceiling app: {workers} gunicorn workers x 4 threads; client: "
          f"Python requests, {args.clients} threads, on the same machine")
    workdir = Path(tempfile.mkdtemp(prefix="gonk-bench-"))
    servers: list[Server] = []
    try:
        gonk = start_gonk(workdir, workers)
        servers.append(gonk)
        ceiling = start_ceiling(workdir, workers)
        servers.append(ceiling)
        reference = start_reference(workdir, args.reference_venv)
        if reference:
            servers.append(reference)
        if "writes" not in args.skip:
            writes_side_by_side(gonk, ceiling, reference, args.clients, n, ref_n)
        if "spread" not in args.skip:
            spread_creates(gonk, args.clients, n)
        if "wrk" not in args.skip:
            wrk_creates(gonk, ceiling, args.clients, wrk_seconds)
        if "paging" not in args.skip:
            paging(gonk, reference, args.clients, 4000)
        if reference:
            reference.stop()
            servers.remove(reference)
        if large and "large" not in args.skip:
            large_object(workdir, large)
        if flat and "flat" not in args.skip:
            flat_growth(gonk, args.clients, flat)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
