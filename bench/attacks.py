"""Issue 11's attacks on validation and the write lock, timed: prints, per attack, the seconds
until the server answers and the status it answers with.

    python bench/attacks.py                                            # this checkout
    PYTHONPATH=/path/to/other/checkout/src python bench/attacks.py     # another version

Through Flask's test client on SQLite + files in /dev/shm, each attack in a process of its own
(forked; a fresh installation each), given --give-up seconds (default 30): one still running
then is killed and reported as "still running". A process, not a thread: Python's `re` holds
the GIL while it backtracks, so a catastrophic pattern stops every thread of its worker, the
bench's own timer included.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
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


def attack(index: int, results: Any) -> None:
    """Set up a fresh installation, then run attack number `index`; put (label, status)."""
    scratch = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        label, run = _attacks(scratch)[index]
        results.put((label, None))
        results.put((label, run()))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _attacks(scratch: Path) -> list[tuple[str, Any]]:
    installation = Installation.create(scratch)
    client = create_app(installation=installation).test_client()
    headers = {"x-api-key": add_user(installation, "alice")}

    def post(path: str, body: dict[str, Any]) -> Any:
        return client.post(path, json=body, headers=headers)

    post("/datasets", {"name": "ds"})
    obj = post("/datasets/ds/objects", {"name": "a.txt", "mimetype": "text/plain",
                                        "object": _b64(b"x")}).json["uuid"]

    def schema(name: str, value: Any) -> str:
        response = post("/datasets/ds/schemas", {"name": name,
                                                 "schema": _b64(json.dumps(value).encode())})
        return f"{response.status_code}"

    def annotate(schema_name: str, raw: bytes,
                 identifiers: list[dict[str, Any]] | None = None) -> str:
        response = post("/datasets/ds/annotations", {
            "schema": {"name": schema_name, "version": 0},
            "object_identifiers": identifiers or [{"uuid": obj, "version": 0}],
            "annotation": _b64(raw)})
        return f"{response.status_code}"

    schema("schema-evil", {"type": "string", "pattern": "^(a+)+$"})
    schema("schema-pp", {"type": "object", "patternProperties": {"^(a+)+$": {}},
                         "additionalProperties": False})
    schema("schema-unique", {"type": "array", "uniqueItems": True})
    schema("schema-multiple", {"type": "number", "multipleOf": 0.1})
    schema("schema-any", {})
    made_up = [{"uuid": f"00000000-0000-4000-8000-{i:012x}", "version": 0}
               for i in range(40000)]
    return [
        ("pattern ^(a+)+$ against 27 a's and '!'",
         lambda: annotate("schema-evil", json.dumps("a" * 27 + "!").encode())),
        ("pattern ^(a+)+$ against 40 a's and '!'",
         lambda: annotate("schema-evil", json.dumps("a" * 40 + "!").encode())),
        ("patternProperties ^(a+)+$, a key of 40 a's and '!'",
         lambda: annotate("schema-pp", json.dumps({"a" * 40 + "!": 1}).encode())),
        ("draft-04 schema with patternProperties {'(': {}}",
         lambda: schema("schema-paren", {"$schema": "http://json-schema.org/draft-04/schema#",
                                         "patternProperties": {"(": {}}})),
        ("uniqueItems over 3,000 distinct objects",
         lambda: annotate("schema-unique",
                          json.dumps([{"i": i} for i in range(3000)]).encode())),
        ("multipleOf 0.1 against 10**400",
         lambda: annotate("schema-multiple", str(10**400).encode())),
        ("40,000 made-up object identifiers",
         lambda: annotate("schema-any", b"{}", made_up)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--give-up", type=float, default=30.0)
    args = parser.parse_args()
    context = multiprocessing.get_context("fork")
    scratch = Path(tempfile.mkdtemp())
    count = len(_attacks(scratch))
    shutil.rmtree(scratch, ignore_errors=True)
    for index in range(count):
        results = context.Queue()
        process = context.Process(target=attack, args=(index, results))
        process.start()
        label, _ = results.get(timeout=120)  # set up; the attack starts now
        started = time.monotonic()
        try:
            _, status = results.get(timeout=args.give_up)
        except Exception:  # queue.Empty: still running
            status = f"still running after {args.give_up:g} s (killed)"
        seconds = time.monotonic() - started
        process.kill()
        process.join()
        print(f"{label:55} {seconds:7.2f} s  {status}", flush=True)


if __name__ == "__main__":
    main()
