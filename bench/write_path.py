"""The write path's CPU cost, in one process, without the disk: prints writes per second.

    python bench/write_path.py                        # this checkout
    PYTHONPATH=/path/to/other/checkout/src python bench/write_path.py   # another version

Through Flask's test client (no HTTP, no second process) on SQLite + files in /dev/shm (tmpfs:
fsync costs nothing there), one dataset: N object creates, N annotation creates (one object
each, validated against a schema) and N accepts. What it measures is the rules, the JSON, the
SQL and its indexes: what a change to the tables or the rules costs, compared side by side
between two checkouts on the same machine (bench/bench.py measures the real server, disk
included, whose figures vary more from run to run). Tests never assert on time.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from gonk.api import create_app
from gonk.installation import Installation
from gonk.users import add_user


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def run(count: int) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        installation = Installation.create(scratch)
        client = create_app(installation=installation).test_client()
        headers = {"x-api-key": add_user(installation, "alice")}

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = client.post(path, json=body, headers=headers)
            assert response.status_code == 200, response.json
            return dict(response.json)

        post("/datasets", {"name": "ds"})
        schema = {"type": "object", "properties": {"label": {"type": "string"}}}
        post("/datasets/ds/schemas", {"name": "schema-label",
                                      "schema": _b64(json.dumps(schema).encode())})
        rates = {}
        start = time.perf_counter()
        objects = [post("/datasets/ds/objects", {"name": f"{i}.txt", "mimetype": "text/plain",
                                                 "object": _b64(f"object {i}".encode())})["uuid"]
                   for i in range(count)]
        rates["object creates"] = count / (time.perf_counter() - start)
        start = time.perf_counter()
        for i, uuid in enumerate(objects):
            post("/datasets/ds/annotations", {
                "schema": {"name": "schema-label", "version": 0},
                "object_identifiers": [{"uuid": uuid, "version": 0}],
                "annotation": _b64(json.dumps({"label": str(i)}).encode())})
        rates["annotation creates"] = count / (time.perf_counter() - start)
        pending = [json.loads(body)["uuid"] for body in _pending(client, headers)][:count]
        start = time.perf_counter()
        for event_uuid in pending:
            response = client.put(f"/datasets/ds/events/{event_uuid}/accept", headers=headers)
            assert response.status_code == 200, response.json
        rates["accepts"] = len(pending) / (time.perf_counter() - start)
        installation.close()
        return rates
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _pending(client: Any, headers: dict[str, str]) -> list[str]:
    bodies: list[str] = []
    after = ""
    while True:
        page = client.get(f"/datasets/ds/events?limit=1000{after}", headers=headers).json
        if not page:
            return bodies
        bodies += [json.dumps(e) for e in page if e["type"] == "ObjectCreateEvent"]
        after = f"&after={page[-1]['uuid']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import gonk

    print(f"gonk from {Path(gonk.__file__).parent}; {args.count} of each, best of "
          f"{args.rounds} rounds")
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, rate in run(args.count).items():
            best[name] = max(best.get(name, 0.0), rate)
    for name, rate in best.items():
        print(f"  {name:<20} {rate:8.0f}/s")


if __name__ == "__main__":
    main()
