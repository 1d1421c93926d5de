"""Memory of one upload request, by kind and body size: issue 11, point 7 (JSON bodies in
memory). Prints, per upload, the request's peak of Python allocations (tracemalloc) and how far
the process's peak resident memory (VmHWM) rose during it, each also as a multiple of the body;
and the time of the request.

    python bench/json_memory.py                          # this checkout
    python bench/json_memory.py --against /other/src     # and another version, side by side
    python bench/json_memory.py --kinds json --sizes 8 32 60 --small 2000

Kinds: `json`, an object create in JSON (`{"name", "mimetype", "object": "<base64>"}`, the
body sizes of --sizes); `raw`, the same bytes as a raw upload (`?name=`); `multipart`, as one
file part; `schema` and `annotation`, creates in JSON of a schema and of an annotation at their
default size limits (4 MiB and 16 MiB of document, base64 in the body: those are parsed and
validated in memory).

`--against` runs the same measurements with PYTHONPATH set to that directory, for example the
code before a change: `mkdir /tmp/before && git archive HEAD src | tar -x -C /tmp/before`, then
`--against /tmp/before/src`. Each measurement runs in a process of its own (a fresh
installation, SQLite + files in /dev/shm) that sends one request through Flask's test client.
Object bodies are generated as they are read, so only the server's side of the request is
counted; schema and annotation bodies are made before the measurement starts. tracemalloc
counts every Python allocation, the body's included, and nothing else; the resident memory also
has what the allocator keeps, as a worker under gunicorn would show it (tracemalloc slows the
request down, so the time comes from a run without it). `--small N` also times N creates of a
1 KiB object in JSON, the common case, in microseconds each.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

MiB = 1024**2
BOUNDARY = "bench-boundary-5c1d"
KINDS = ("json", "raw", "multipart", "schema", "annotation")


class Generated(io.RawIOBase):
    """`head`, `size` bytes of a repeated pseudo-random block (or of its base64), `tail`,
    made as it is read: the client holds one block, never the body."""

    def __init__(self, head: bytes, size: int, tail: bytes, encoded: bool) -> None:
        raw = hashlib.sha256(str(size).encode()).digest() * 3 * 4096  # 384 KiB
        self.block = base64.b64encode(raw) if encoded else raw
        self.head, self.tail = head, tail
        self.size = size - size % 4 if encoded else size
        self.length = len(head) + self.size + len(tail)
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # werkzeug's test client asks where the body starts
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = offset if whence == io.SEEK_SET else self.length + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        out = bytearray()
        start, stop = self.position, min(self.length, self.position + len(buffer))
        data_start, data_end = len(self.head), len(self.head) + self.size
        while start < stop:
            if start < data_start:
                piece = self.head[start:min(stop, data_start)]
            elif start < data_end:
                offset = (start - data_start) % len(self.block)
                piece = self.block[offset:offset + min(stop, data_end) - start]
            else:
                piece = self.tail[start - data_end:stop - data_end]
            out += piece
            start += len(piece)
        buffer[:len(out)] = out
        self.position = stop
        return len(out)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _vm(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _client(scratch: Path) -> tuple[Any, dict[str, str]]:
    from gonk.api import create_app
    from gonk.installation import Installation
    from gonk.users import add_user

    installation = Installation.create(scratch / "data")
    client = create_app(installation=installation).test_client()
    headers = {"x-api-key": add_user(installation, "alice")}
    assert client.post("/datasets", json={"name": "ds"}, headers=headers).status_code == 200
    return client, headers


def _request(kind: str, size: int, client: Any,
             headers: dict[str, str]) -> tuple[str, io.RawIOBase, str]:
    """The path, the body and its Content-Type of one upload of `kind`."""
    if kind == "json":
        head = b'{"name": "big.bin", "mimetype": "application/octet-stream", "object": "'
        return ("/datasets/ds/objects",
                Generated(head, size - len(head) - 2, b'"}', encoded=True), "application/json")
    if kind == "raw":
        return ("/datasets/ds/objects?name=big.bin", Generated(b"", size, b"", encoded=False),
                "application/octet-stream")
    if kind == "multipart":
        head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
        tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        return ("/datasets/ds/objects",
                Generated(head, size - len(head) - len(tail), tail, encoded=False),
                f"multipart/form-data; boundary={BOUNDARY}")
    if kind == "schema":  # an enum of labels, as a class list is
        labels = [f"label-{i:09d}" for i in range(size // len('"label-000000000", '))]
        document = json.dumps({"type": "string", "enum": labels}).encode()
        body = json.dumps({"name": "schema-big", "schema": _b64(document)}).encode()
        return "/datasets/ds/schemas", io.BytesIO(body), "application/json"
    if kind == "annotation":
        schema = {"type": "object", "properties": {"boxes": {"type": "array"}}}
        assert client.post("/datasets/ds/schemas", headers=headers, json={
            "name": "schema-boxes", "schema": _b64(json.dumps(schema).encode())}).status_code == 200
        obj = client.post("/datasets/ds/objects", headers=headers, json={
            "name": "a.txt", "mimetype": "text/plain", "object": _b64(b"a")}).json["uuid"]
        box = {"x": 0.25, "y": 0.5, "w": 12, "h": 7, "label": "owl"}
        document = json.dumps({"boxes": [box] * (size // len(json.dumps(box) + ", "))}).encode()
        body = json.dumps({"schema": {"name": "schema-boxes", "version": 0},
                           "object_identifiers": [{"uuid": obj, "version": 0}],
                           "annotation": _b64(document)}).encode()
        return "/datasets/ds/annotations", io.BytesIO(body), "application/json"
    raise ValueError(kind)


def measure(kind: str, size: int, traced: bool) -> dict[str, float]:
    """One upload in this process; `size` is the body's for objects, the document's for
    schemas and annotations."""
    scratch = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        client, headers = _client(scratch)
        path, body, content_type = _request(kind, size, client, headers)
        length = body.seek(0, io.SEEK_END)
        body.seek(0)
        headers = {**headers, "Content-Type": content_type, "Content-Length": str(length)}
        rss_before = _vm("VmRSS")
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        response = client.open(path, method="POST", input_stream=body, headers=headers)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return {"body": length, "peak": peak, "rss_rise": _vm("VmHWM") - rss_before,
                "seconds": seconds}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def small_creates(count: int) -> dict[str, float]:
    """`count` creates of distinct 1 KiB objects in JSON; microseconds each."""
    scratch = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        client, headers = _client(scratch)
        bodies = [json.dumps({"name": f"f{i}.bin", "mimetype": "application/octet-stream",
                              "object": _b64(i.to_bytes(4, "big") * 256)})
                  for i in range(count)]
        headers = {**headers, "Content-Type": "application/json"}
        started = time.perf_counter()
        for data in bodies:
            assert client.post("/datasets/ds/objects", data=data,
                               headers=headers).status_code == 200
        return {"micros": (time.perf_counter() - started) / count * 1e6}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _in_process(args: list[str], pythonpath: str | None) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _row(label: str, pythonpath: str | None, kind: str, size: int) -> str:
    traced = _in_process(["--one", kind, str(size), "--traced"], pythonpath)
    timed = _in_process(["--one", kind, str(size)], pythonpath)
    body = traced["body"]
    return (f"| {kind} | {label} | {body / MiB:.1f} MiB | {traced['peak'] / MiB:.1f} MiB "
            f"({traced['peak'] / body:.2f}x) | {timed['rss_rise'] / MiB:.1f} MiB "
            f"({timed['rss_rise'] / body:.2f}x) | {timed['seconds']:.2f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--sizes", type=float, nargs="+", default=[8, 32, 60],
                        help="body sizes in MiB of the json kind (the default JSON limit is "
                             "64 MiB); raw and multipart use the largest")
    parser.add_argument("--against", help="another version's src directory, for PYTHONPATH")
    parser.add_argument("--small", type=int, default=0, help="also time N 1 KiB creates")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--small-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.traced)))
        return
    if args.small_one is not None:
        print(json.dumps(small_creates(args.small_one)))
        return
    versions: list[tuple[str, str | None]] = [("this checkout", None)]
    if args.against:
        versions.insert(0, (f"--against {args.against}", args.against))
    sizes = {"json": [int(s * MiB) for s in args.sizes], "raw": [int(max(args.sizes) * MiB)],
             "multipart": [int(max(args.sizes) * MiB)], "schema": [4 * MiB - 4096],
             "annotation": [16 * MiB - 4096]}
    print("| kind | version | body | peak Python allocations (tracemalloc) | peak resident "
          "memory rise (VmHWM) | time (untraced) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in args.kinds:
        for size in sizes[kind]:
            for label, pythonpath in versions:
                print(_row(label, pythonpath, kind, size), flush=True)
    if args.small:
        for label, pythonpath in versions:
            micros = _in_process(["--small-one", str(args.small)], pythonpath)["micros"]
            print(f"{label}: {args.small} creates of 1 KiB objects in JSON, {micros:.0f} us "
                  "each")


if __name__ == "__main__":
    main()
