"""The verifiable log's costs (issue 17); prints figures, tests never assert on time.

    python bench/verifiable_log.py creates --without /tmp/gonk-before-tree
        # 1 KiB object creates by 8 clients, `gonk-api serve` of this tree (with the Merkle
        # tree) against the same command of another checkout (--without: a checkout of the
        # commit before the tree, e.g. `git worktree add /tmp/gonk-before-tree cb2ca37`), in
        # alternating rounds of one run, each server on an installation of its own
    python bench/verifiable_log.py proofs --events 1000000 --workdir /tmp/proofbench
        # inclusion and consistency proofs in a dataset of 1,000,000 events, served by
        # `gonk-api serve` (median and p95 over HTTP, and in process without HTTP)
    ... --database-url postgresql://postgres@127.0.0.1:5432/gonk_bench_proofs   # on PostgreSQL

The 1,000,000-event log of `proofs` is written straight into the events table in batches
(real MemberSetEvents toggling a user between viewer and annotator, each linked into the hash
chain exactly as DatasetLog links it, its body stored exactly as DatasetLog stores it), then
the dataset's Merkle tree is built the way `gonk-api migrate` builds it, in one pass over the
log. Appending the same events one by one through DatasetLog takes about 25 minutes here; what a
proof reads (the events' uuid index, one event's body and the tree's nodes) is the same either
way. The members table is not kept up to date by the bulk write, so `gonk-api verify` on that
installation reports the state mismatch: the bench installation serves proofs, nothing else.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# run as a script: bench/ is on the path (bench.py, releases.py); put the root there too
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import GONK, Server, create_objects, machine, make_dataset
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
DATASET = "big"


def start_serve(name: str, workdir: Path, src: Path, env: dict[str, str]) -> Server:
    """`gonk-api init` and `serve` (default workers) of the code under `src`, on an installation
    of its own in workdir/name."""
    run_env = {**os.environ, **env, "PYTHONPATH": str(src)}
    data = workdir / name
    out = subprocess.run([*GONK, "--data-dir", str(data), "init", "--username", "bench"],
                         capture_output=True, text=True, check=True, env=run_env)
    key = out.stdout.strip().splitlines()[-1]
    port = free_port()
    argv = [*GONK, "--data-dir", str(data), "serve", "--port", str(port), "--access-log", ""]
    return Server(name, argv, f"http://127.0.0.1:{port}", key, workdir, run_env)


def creates(args: argparse.Namespace) -> None:
    without = Path(args.without).resolve()
    if not (without / "src" / "gonk").is_dir():
        sys.exit(f"--without {without}: no src/gonk there (a checkout of Gonk before the tree)")
    print(f"{machine()}\n1 KiB object creates, {args.clients} clients, {args.count} per round, "
          f"{args.rounds} rounds each, alternating; `gonk-api serve` with its default workers")
    env = {"GONK_LOG_ORIGIN": "bench.example"}
    with tempfile.TemporaryDirectory(prefix="gonk-tree-bench-") as tmp:
        workdir = Path(tmp)
        servers = {"with the tree": start_serve("with-tree", workdir, ROOT / "src", env),
                   "without (before)": start_serve("without-tree", workdir, without / "src",
                                                   env)}
        rates: dict[str, list[float]] = {name: [] for name in servers}
        try:
            for server in servers.values():  # warm up: imports, first connections
                make_dataset(server, "warmup")
                create_objects(server, "warmup", args.clients, 100, tag="w")
            for round_number in range(args.rounds):
                order = list(servers.items())
                if round_number % 2:
                    order.reverse()
                for name, server in order:
                    dataset = f"round{round_number}"
                    make_dataset(server, dataset)
                    result = create_objects(server, dataset, args.clients, args.count)
                    if result["errors"]:
                        sys.exit(f"{name}: {result['errors']} errors, e.g. "
                                 f"{result['sample_error']}")
                    rates[name].append(result["rate"])
                    print(f"  round {round_number + 1}, {name}: {result['rate']:.0f}/s",
                          flush=True)
        finally:
            for server in servers.values():
                server.stop()
    with_tree = statistics.median(rates["with the tree"])
    before = statistics.median(rates["without (before)"])
    ratio = with_tree / before
    print(f"median: with the tree {with_tree:.0f}/s, without {before:.0f}/s: ratio "
          f"{ratio:.2f} ({'within' if ratio >= 0.9 else 'MISSES'} the 10 % target)")


# --- proofs at a million events ------------------------------------------------------------


def bulk_log(data_dir: Path, database_url: str | None, total: int) -> None:
    """A dataset of `total` events (see the module's text); the tree built as `migrate` does."""
    from sqlalchemy import insert, update

    from gonk import service
    from gonk.domain import events as ev
    from gonk.domain import integrity
    from gonk.domain.merkle import event_leaf
    from gonk.installation import Installation
    from gonk.storage import datasets, merkle
    from gonk.storage import tables as t
    from gonk.storage.log import DatasetLog, event_bodies

    installation = Installation.open(data_dir, database_url)
    service.create_dataset(installation, "bench", DATASET)
    with installation.db.write() as conn:  # bob a viewer, through the rules
        DatasetLog.lock(conn, DATASET).append(ev.member_set("bench", "bob", "viewer"))
    started = time.perf_counter()
    with installation.db.write() as conn:
        ds = datasets.get(conn, DATASET, lock=True)
        head, seq = ds.head_integrity, ds.event_count
        leaves = [event_leaf(e) for e in event_bodies(conn, ds.id)]
        rows: list[dict[str, Any]] = []
        roles = ("annotator", "viewer")
        while seq < total:
            event = ev.member_set("bench", "bob", roles[seq % 2])
            event["integrity"] = head = integrity.link(head, event)
            seq += 1
            leaves.append(event_leaf(event))
            rows.append({"dataset_id": ds.id, "seq": seq, "uuid": event["uuid"],
                         "type": event["type"], "integrity": head,
                         "body": json.dumps(event, separators=(",", ":"))})
            if len(rows) == 20000 or seq == total:
                conn.execute(insert(t.events), rows)
                rows = []
                if seq % 100000 < 20000 or seq == total:
                    print(f"  ... {seq} events ({time.perf_counter() - started:.0f} s)",
                          flush=True)
        conn.execute(update(t.datasets).where(t.datasets.c.id == ds.id)
                     .values(head_integrity=head, event_count=seq))
        nodes = merkle.build(conn, ds.id, leaves)
    print(f"  tree: {nodes} nodes stored ({time.perf_counter() - started:.0f} s in all)")
    if installation.db.engine.dialect.name == "postgresql":
        with installation.db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    installation.close()


def timed(call: Any, repeat: int) -> tuple[float, float]:
    """(median, p95) milliseconds of `call()`."""
    samples = []
    for i in range(repeat):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def proofs(args: argparse.Namespace) -> None:
    from sqlalchemy import select

    from gonk import transparency
    from gonk.installation import Installation
    from gonk.storage import datasets
    from gonk.storage import tables as t

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="gonk-proof-bench-"))
    data = workdir / "gonk-data"
    env = {**os.environ, "GONK_LOG_ORIGIN": "bench.example"}
    if args.database_url:
        env["GONK_DATABASE_URL"] = args.database_url
        from releases import postgres_database

        postgres_database(args.database_url)
    if not (workdir / "built").exists():
        print(f"building a log of {args.events} events in {data} ...", flush=True)
        for argv in (("init", "--username", "bench"), ("users", "add", "bob")):
            made = subprocess.run([*GONK, "--data-dir", str(data), *argv], check=True, env=env,
                                  capture_output=True, text=True)
            if argv[0] == "init":
                (workdir / "key").write_text(made.stdout.strip().splitlines()[-1])
        bulk_log(data, args.database_url, args.events)
        (workdir / "built").write_text("")
    installation = Installation.open(data, args.database_url)
    with installation.db.read() as conn:
        ds = datasets.get(conn, DATASET)
        size = ds.event_count
        rng = random.Random(7)
        picked = rng.sample(range(1, size + 1), args.repeat)
        uuids = dict(conn.execute(select(t.events.c.seq, t.events.c.uuid).where(
            t.events.c.dataset_id == ds.id, t.events.c.seq.in_(picked))).all())
    events = [uuids[s] for s in picked]
    olds = [rng.randrange(1, size) for _ in range(args.repeat)]
    print(f"{machine()}\ndataset of {size} events; {args.repeat} proofs of each kind, random "
          "events and sizes")
    inclusion = timed(lambda i: transparency.inclusion_proof(installation, DATASET, events[i],
                                                             None), args.repeat)
    consistency = timed(lambda i: transparency.consistency_proof(installation, DATASET,
                                                                 olds[i], None), args.repeat)
    print(f"  in process: inclusion {inclusion[0]:.2f} ms median, {inclusion[1]:.2f} ms p95; "
          f"consistency {consistency[0]:.2f} ms median, {consistency[1]:.2f} ms p95")
    installation.close()

    token = (workdir / "key").read_text().strip()
    port = free_port()
    server = Server("gonk", [*GONK, "--data-dir", str(data), "serve", "--port", str(port),
                             "--access-log", ""], f"http://127.0.0.1:{port}", token,
                    workdir, env)
    try:
        # a plain keep-alive connection (http.client): `requests` adds about 0.6 ms of the
        # client's own CPU to every call on this machine, which is not the server's time
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        base = f"/datasets/{DATASET}"

        def get(path: str) -> None:
            connection.request("GET", path, headers=server.headers)
            answer = connection.getresponse()
            body = answer.read()
            assert answer.status == 200, body[:200]

        for _ in range(50):  # warm up: the connection's worker, its database connection
            get(base + "/checkpoint")
        served = {
            "inclusion proof": timed(lambda i: get(
                f"{base}/proofs/inclusion?event={events[i]}"), args.repeat),
            "consistency proof": timed(lambda i: get(
                f"{base}/proofs/consistency?from={olds[i]}"), args.repeat),
            "checkpoint": timed(lambda i: get(base + "/checkpoint"), args.repeat),
            "GET /health (the HTTP stack's floor)": timed(lambda i: get("/health"), args.repeat),
        }
        connection.close()
    finally:
        server.stop()
    for name, (median, p95) in served.items():
        target = "" if "health" in name else \
            f" ({'under' if median < 5 else 'MISSES'} the 5 ms target)"
        print(f"  over HTTP: {name} {median:.2f} ms median, {p95:.2f} ms p95{target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("creates", help="creates with and without the tree, side by side")
    c.add_argument("--without", required=True, help="a checkout of Gonk before the tree")
    c.add_argument("--clients", type=int, default=8)
    c.add_argument("--count", type=int, default=800, help="creates per round and server")
    c.add_argument("--rounds", type=int, default=5)
    p = commands.add_parser("proofs", help="proof latency in a large dataset")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=500)
    p.add_argument("--workdir", help="keep the installation here (built once, measured again "
                                     "on the next run)")
    p.add_argument("--database-url", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    creates(args) if args.command == "creates" else proofs(args)


if __name__ == "__main__":
    main()
