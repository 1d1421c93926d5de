"""End to end: `gonk-api serve` (gunicorn, several worker processes) as a real process.

It must answer every request exactly as `gonk-api run` does (same statuses, headers that matter
and bodies, up to the uuids and timestamps that are new in each installation), write one access
log line per request to standard output, and let several workers write to one dataset at once
without refusing a write or breaking the chain.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
import uuid as uuid_module
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from gonk.client.log_proofs import (
    VerifierKey,
    decode_hashes,
    event_leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.support.chain import merkle_root, recompute_chain
from tests.support.http import b64
from tests.support.processes import child_pids, cpu_ticks
from tests.support.seed import seed_code_examples_in_order
from tests.support.storage import BOTH_ENDS, installed_blobs, running_site

# The servers below start once per storage combination; under pytest-xdist this module's tests
# stay on one worker so that they are not started again on another.
pytestmark = pytest.mark.xdist_group("serve")

TIMEOUT = 30
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
MAX_JSON = 64 * 1024
MAX_STREAM = 100_000
LIMITS = ["--max-json-bytes", str(MAX_JSON), "--max-stream-bytes", str(MAX_STREAM)]
HEADERS_THAT_MATTER = ("Content-Type", "Content-Length", "ETag", "Content-Range",
                       "Accept-Ranges", "Cache-Control")


@pytest.fixture(scope="module", params=BOTH_ENDS)
def serve_storage(request: pytest.FixtureRequest) -> str:
    """Every test of this module runs on SQLite + files and on PostgreSQL + S3 (all four
    combinations with GONK_TEST_STORAGE=all: tests/support/storage.py says why); each server
    below gets an installation of its own of that kind."""
    return request.param


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, serve_storage: str,
           request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    """`gonk-api serve --workers 3` on a free port, with standard output (the access log)
    apart from standard error."""
    with running_site(tmp_path_factory.mktemp("serve") / "gonk-data", serve_storage, request,
                      ("alice",), "serve", ["--workers", "3", *LIMITS], new_session=True,
                      split_stderr=True) as site:
        yield site


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, serve_storage: str,
        request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    """`gonk-api run` with the same limits, on its own installation, for comparison."""
    with running_site(tmp_path_factory.mktemp("run") / "gonk-data", serve_storage, request,
                      ("alice",), "run", LIMITS) as site:
        yield site


# --- the same conversation with `run` and with `serve` -----------------------------------------


class Normaliser:
    """Replaces what differs between two installations by placeholders: each uuid by its order
    of first appearance, timestamps and integrities (which depend on time and uuids)."""

    def __init__(self) -> None:
        self.uuids: dict[str, str] = {}

    def _uuid(self, match: re.Match[str]) -> str:
        return self.uuids.setdefault(match.group(0).lower(), f"<uuid-{len(self.uuids)}>")

    def text(self, value: str) -> str:
        return UUID_RE.sub(self._uuid, value)

    def value(self, value: Any, key: str | None = None) -> Any:
        if key == "timestamp":
            return "<timestamp>"
        if key == "integrity":
            return "<integrity>"
        if isinstance(value, dict):
            return {self.text(k): self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def conversation(base: str, key: str) -> list[dict[str, Any]]:
    """A client's session touching every kind of answer; returns what a client can see of each
    response, normalised."""
    norm = Normaliser()
    auth = {"x-api-key": key}
    seen: list[dict[str, Any]] = []
    state: dict[str, Any] = {}

    def call(label: str, method: str, path: str, headers: dict[str, str] | None = None,
             **kwargs: Any) -> requests.Response:
        resp = requests.request(method, base + path.format(**state), timeout=TIMEOUT,
                                headers=auth if headers is None else headers, **kwargs)
        if resp.headers.get("Content-Type", "").startswith("application/json"):
            body: Any = norm.value(resp.json())
        else:
            body = resp.content
        seen.append({
            "call": label, "status": resp.status_code, "body": body,
            "headers": {h: norm.text(resp.headers[h]) for h in HEADERS_THAT_MATTER
                        if h in resp.headers},
        })
        return resp

    raw = {**auth, "Content-Type": "image/png"}
    call("list datasets, none yet", "GET", "/datasets")
    call("create dataset", "POST", "/datasets", json={"name": "same"})
    call("create it again", "POST", "/datasets", json={"name": "same"})
    call("no key", "GET", "/datasets", headers={})
    call("unknown key", "GET", "/datasets", headers={"x-api-key": "nope"})
    call("not JSON on a JSON endpoint", "POST", "/datasets",
         headers={**auth, "Content-Type": "text/plain"}, data=b'{"name": "x"}')
    call("malformed JSON", "POST", "/datasets", headers={**auth, "Content-Type":
                                                         "application/json"}, data=b"{")
    created = call("JSON object create", "POST", "/datasets/same/objects",
                   json={"name": "a.txt", "mimetype": "text/plain", "object": b64(b"hello")})
    state["text"] = created.json()["uuid"]
    uploaded = call("raw upload", "POST", "/datasets/same/objects?name=pic.png", headers=raw,
                    data=PNG)
    state["png"] = uploaded.json()["uuid"]
    call("raw upload of the same bytes", "POST", "/datasets/same/objects?name=b.png",
         headers=raw, data=PNG)
    call("raw upload without a name", "POST", "/datasets/same/objects", headers=raw,
         data=b"x")
    call("raw upload over the stream limit", "POST", "/datasets/same/objects?name=big.bin",
         headers={**auth, "Content-Type": "application/octet-stream"},
         data=b"\0" * (MAX_STREAM + 1))
    call("JSON body over the JSON limit", "POST", "/datasets/same/objects",
         json={"name": "big.txt", "mimetype": "text/plain", "object": b64(b"z" * MAX_JSON)})
    call("raw upload to an unknown dataset", "POST", "/datasets/nope/objects?name=a.png",
         headers=raw, data=PNG)
    call("object info", "GET", "/datasets/same/objects/{png}")
    call("object load", "GET", "/datasets/same/objects/{png}/0")
    call("bytes", "GET", "/datasets/same/objects/{png}/0/bytes")
    call("bytes, a range", "GET", "/datasets/same/objects/{png}/0/bytes",
         headers={**auth, "Range": "bytes=10-99"})
    call("bytes, a suffix range", "GET", "/datasets/same/objects/{png}/0/bytes",
         headers={**auth, "Range": "bytes=-7"})
    call("bytes, a range past the end", "GET", "/datasets/same/objects/{png}/0/bytes",
         headers={**auth, "Range": f"bytes={len(PNG) + 5}-"})
    call("bytes, unchanged", "GET", "/datasets/same/objects/{png}/0/bytes",
         headers={**auth, "If-None-Match": f'"{hashlib.sha256(PNG).hexdigest()}"'})
    call("bytes, unknown version", "GET", "/datasets/same/objects/{png}/7/bytes")
    call("bytes, bad uuid", "GET", "/datasets/same/objects/not-a-uuid/0/bytes")
    call("bytes of the JSON-created object", "GET", "/datasets/same/objects/{text}/0/bytes")
    call("raw update", "PATCH", "/datasets/same/objects/{png}?name=pic.png", headers=raw,
         data=PNG + b"!")
    call("raw update, bytes unchanged", "PATCH", "/datasets/same/objects/{png}?name=pic.png",
         headers=raw, data=PNG + b"!")
    events = call("events", "GET", "/datasets/same/events").json()
    state["create"] = events[1]["uuid"]
    call("accept a create", "PUT", "/datasets/same/events/{create}/accept")
    call("accept it again", "PUT", "/datasets/same/events/{create}/accept")
    call("delete a version", "DELETE", "/datasets/same/objects/{png}/1")
    call("accepted objects", "GET", "/datasets/same/objects/accepted")
    call("pending objects", "GET", "/datasets/same/objects/pending")
    call("a bad status word", "GET", "/datasets/same/objects/sideways")
    call("a page of objects", "GET", "/datasets/same/objects?limit=1")
    call("a bad limit", "GET", "/datasets/same/objects?limit=0")
    call("method not allowed", "DELETE", "/datasets")
    call("unknown route", "GET", "/no/such/route")
    call("events at the end", "GET", "/datasets/same/events")
    return seen


def test_serve_answers_every_request_exactly_like_run(served: SimpleNamespace,
                                                      dev: SimpleNamespace) -> None:
    under_serve = conversation(served.base, served.key)
    under_run = conversation(dev.base, dev.key)
    for got, expected in zip(under_serve, under_run, strict=True):
        assert got == expected, f"`serve` and `run` differ on: {expected['call']}"

    statuses = {step["call"]: step["status"] for step in under_serve}
    assert statuses == {
        "list datasets, none yet": 200, "create dataset": 200, "create it again": 409,
        "no key": 401, "unknown key": 401, "not JSON on a JSON endpoint": 415,
        "malformed JSON": 400, "JSON object create": 200, "raw upload": 200,
        "raw upload of the same bytes": 409, "raw upload without a name": 400,
        "raw upload over the stream limit": 413, "JSON body over the JSON limit": 413,
        "raw upload to an unknown dataset": 404, "object info": 200, "object load": 200,
        "bytes": 200, "bytes, a range": 206, "bytes, a suffix range": 206,
        "bytes, a range past the end": 416, "bytes, unchanged": 304,
        "bytes, unknown version": 404, "bytes, bad uuid": 400,
        "bytes of the JSON-created object": 200, "raw update": 200,
        "raw update, bytes unchanged": 409, "events": 200, "accept a create": 200,
        "accept it again": 409, "delete a version": 200, "accepted objects": 200,
        "pending objects": 200, "a bad status word": 400, "a page of objects": 200,
        "a bad limit": 400, "method not allowed": 405, "unknown route": 404,
        "events at the end": 200,
    }
    step = {s["call"]: s for s in under_serve}
    assert step["bytes"]["body"] == PNG
    assert step["bytes"]["headers"]["Content-Type"] == "image/png"
    assert step["bytes"]["headers"]["ETag"] == f'"{hashlib.sha256(PNG).hexdigest()}"'
    assert step["bytes"]["headers"]["Content-Length"] == str(len(PNG))
    assert step["bytes, a range"]["body"] == PNG[10:100]
    assert step["bytes, a range"]["headers"]["Content-Range"] == f"bytes 10-99/{len(PNG)}"
    assert step["bytes, a suffix range"]["body"] == PNG[-7:]
    assert step["bytes of the JSON-created object"]["body"] == b"hello"
    assert base64.b64decode(step["object load"]["body"]["bytes"]) == PNG
    assert step["raw upload of the same bytes"]["body"]["existing"] == {
        "uuid": step["raw upload"]["body"]["uuid"], "version": 0}
    for refused in ("raw upload over the stream limit", "JSON body over the JSON limit"):
        assert "limit" in step[refused]["body"]["error"]
    # nothing of the refused uploads was stored: only the 2 creates and 1 update are objects
    events = step["events at the end"]["body"]
    assert [e["type"] for e in events] == [
        "OwnerAddEvent", "ObjectCreateEvent", "ObjectCreateEvent", "ObjectUpdateEvent",
        "ReviewAcceptEvent", "ObjectDeleteEvent"]
    raw_events = requests.get(f"{served.base}/datasets/same/events", timeout=TIMEOUT,
                              headers={"x-api-key": served.key}).json()
    recompute_chain(raw_events)


@pytest.fixture(scope="module")
def seed_site(tmp_path_factory: pytest.TempPathFactory, serve_storage: str,
              request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    with running_site(tmp_path_factory.mktemp("seed-serve") / "gonk-data", serve_storage,
                      request, ("user-one", "user-two"), "serve", ["--workers", "2"],
                      new_session=True) as site:
        site.key_two = site.keys[1]
        yield site


def test_the_seed_examples_pass_under_serve(seed_site: SimpleNamespace, gonk_proc: Any) -> None:
    """The seed's client code, in order, as tests/e2e/test_seed_examples.py runs it against
    `gonk-api run`, now against two gunicorn workers."""
    seed_code_examples_in_order(seed_site, gonk_proc)


# --- uploads cut off by the client -------------------------------------------------------------


def _cut_upload(port: int, key: str, dataset: str, name: str, chunked: bool) -> None:
    """A raw upload whose client goes away after half of its body (within the server's stream
    limit): with a Content-Length, or chunked without its last chunk."""
    body = uuid_module.uuid4().bytes * (MAX_STREAM // 2 // 16)
    head = (f"POST /datasets/{dataset}/objects?name={name} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"x-api-key: {key}\r\nContent-Type: application/octet-stream\r\n")
    if chunked:
        message = (head + "Transfer-Encoding: chunked\r\n\r\n"
                   f"{len(body):x}\r\n").encode() + body + b"\r\n"
    else:
        message = (head + f"Content-Length: {2 * len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(message)
        time.sleep(0.2)  # the server is reading the body when the client goes away


def _logged_lines(site: SimpleNamespace, name: str) -> list[str]:
    """The server's access log lines of the requests that uploaded `name`."""
    return [line for line in site.server.log().splitlines() if f"name={name}" in line]


@pytest.mark.usefixtures("serve_storage")  # getfixturevalue below needs it
@pytest.mark.parametrize("how", ["serve", "run"])
def test_an_upload_cut_off_by_the_client_stores_nothing(how: str,
                                                        request: pytest.FixtureRequest) -> None:
    """The client never got an answer, so the write must leave no trace: no object, no event,
    no blob, no temporary file; under gunicorn as under the development server."""
    site = request.getfixturevalue("served" if how == "serve" else "dev")
    auth = {"x-api-key": site.key}
    dataset = f"cut-{uuid_module.uuid4().hex[:8]}"
    assert requests.post(f"{site.base}/datasets", json={"name": dataset}, headers=auth,
                         timeout=TIMEOUT).status_code == 200
    blobs = installed_blobs(site.data_dir, site.env)
    blobs_before = sorted(digest for digest, _ in blobs.all_blobs())

    for chunked in (False, True):
        name = f"cut-{'chunked' if chunked else 'length'}.bin"
        _cut_upload(site.server.port, site.key, dataset, name, chunked)
        # Wait until the server is done with the request: under gunicorn its access log line
        # is written when the answer is (a busy machine took over 0.2 s to get there on S3,
        # where no temporary upload exists before the first 8 MiB part to wait on instead).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
                list(blobs.temporary_uploads())
                or (how == "serve" and not _logged_lines(site, name))):
            time.sleep(0.05)  # the server notices the client is gone
        time.sleep(0.2)
        objects = requests.get(f"{site.base}/datasets/{dataset}/objects", headers=auth,
                               timeout=TIMEOUT)
        assert objects.status_code == 200
        assert objects.json() == [], f"a cut-off upload ({name}) was stored as an object"
        events = requests.get(f"{site.base}/datasets/{dataset}/events", headers=auth,
                              timeout=TIMEOUT).json()
        assert [e["type"] for e in events] == ["OwnerAddEvent"]
        assert sorted(digest for digest, _ in blobs.all_blobs()) == blobs_before
        assert list(blobs.temporary_uploads()) == []
        if how == "serve":  # refused as the client's mistake, not a server error
            logged = _logged_lines(site, name)
            assert len(logged) == 1 and '" 400 ' in logged[0], logged


@pytest.mark.usefixtures("serve_storage")  # getfixturevalue below needs it
@pytest.mark.parametrize("how", ["serve", "run"])
def test_a_raw_upload_with_broken_chunked_framing_is_400(how: str,
                                                         request: pytest.FixtureRequest) -> None:
    site = request.getfixturevalue("served" if how == "serve" else "dev")
    auth = {"x-api-key": site.key}
    dataset = f"framing-{uuid_module.uuid4().hex[:8]}"
    assert requests.post(f"{site.base}/datasets", json={"name": dataset}, headers=auth,
                         timeout=TIMEOUT).status_code == 200
    message = (f"POST /datasets/{dataset}/objects?name=bad.bin HTTP/1.1\r\n"
               f"Host: 127.0.0.1\r\nx-api-key: {site.key}\r\nConnection: close\r\n"
               "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\nzz\r\nnot a chunk\r\n0\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=TIMEOUT) as sock:
        sock.sendall(message)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400", answer
    assert "error" in json.loads(body)
    assert requests.get(f"{site.base}/datasets/{dataset}/objects", headers=auth,
                        timeout=TIMEOUT).json() == []


# --- access log ----------------------------------------------------------------------------------


def test_every_request_gets_one_access_log_line_on_stdout(served: SimpleNamespace) -> None:
    marker = uuid_module.uuid4().hex
    auth = {"x-api-key": served.key}
    sent = [
        ("GET", f"/datasets?trace={marker}-ok", auth, 200),
        ("GET", f"/datasets?trace={marker}-nokey", {}, 401),
        ("GET", f"/no-such-route-{marker}", auth, 404),
        ("POST", f"/datasets?trace={marker}-create", auth, 200),
    ]
    for method, path, headers, status in sent:
        body = {"name": f"logged-{marker[:8]}"} if method == "POST" else None
        resp = requests.request(method, served.base + path, headers=headers, json=body,
                                timeout=TIMEOUT)
        assert resp.status_code == status, resp.text

    deadline = time.monotonic() + 10
    while True:
        stdout = served.server.log()
        lines = [line for line in stdout.splitlines() if marker in line]
        if len(lines) >= len(sent) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for method, path, _, status in sent:
        matching = [line for line in lines if f'"{method} {path} HTTP/1.1"' in line]
        assert len(matching) == 1, (method, path, stdout[-2000:])
        assert re.search(rf'^127\.0\.0\.1 "{method} {re.escape(path)} HTTP/1\.1" {status} \d+ ',
                         matching[0]), matching[0]
    # standard output is the access log; gunicorn's own messages go to standard error
    assert marker not in served.server.stderr_text()
    assert "Booting worker" in served.server.stderr_text()
    assert "Booting worker" not in stdout


# --- several workers, one dataset ---------------------------------------------------------------


def test_several_workers_write_one_dataset_concurrently(served: SimpleNamespace,
                                                        gonk_proc: Any) -> None:
    threads, per_thread, dataset = 8, 20, "crowded"
    auth = {"x-api-key": served.key}
    assert requests.post(f"{served.base}/datasets", json={"name": dataset}, headers=auth,
                         timeout=TIMEOUT).status_code == 200
    workers = child_pids(served.server.proc.pid)
    assert len(workers) == 3, workers
    ticks_before = {pid: cpu_ticks(pid) for pid in workers}

    results: list[tuple[bytes, int, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for n in range(per_thread):
                data = f"thread {index} object {n}".encode()
                # a new connection per request, so that every worker gets some of them
                resp = requests.post(f"{served.base}/datasets/{dataset}/objects", headers=auth,
                                     timeout=TIMEOUT, json={"name": f"t{index}-{n}.txt",
                                                            "mimetype": "text/plain",
                                                            "object": b64(data)})
                with lock:
                    results.append((data, resp.status_code, resp.text))
        except BaseException as exc:
            failures.append(exc)

    pool = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    elapsed = time.monotonic() - started
    assert not failures, failures
    assert len(results) == threads * per_thread
    refused = [(status, text) for _, status, text in results if status != 200]
    assert not refused, refused[:5]
    busy = [pid for pid in workers if cpu_ticks(pid) - ticks_before[pid] >= 5]
    assert len(busy) >= 2, "the writes did not reach several worker processes"
    print(f"\n{threads * per_thread} creates by {threads} clients through 3 workers in "
          f"{elapsed:.2f} s: {threads * per_thread / elapsed:.0f}/s")

    created = {json.loads(text)["uuid"]: data for data, _, text in results}
    assert len(created) == threads * per_thread  # one new object per acknowledged write
    events = requests.get(f"{served.base}/datasets/{dataset}/events?limit=1000", headers=auth,
                          timeout=TIMEOUT).json()
    assert len(events) == 1 + threads * per_thread
    recompute_chain(events)
    by_uuid = {e["object"]["uuid"]: e for e in events if e["type"] == "ObjectCreateEvent"}
    assert set(by_uuid) == set(created)
    for object_uuid, data in created.items():
        assert by_uuid[object_uuid]["object"]["hash"] == hashlib.sha256(data).hexdigest()

    verified = gonk_proc.run_cli("verify", dataset, data_dir=served.data_dir, env=served.env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{dataset}: OK" in verified.stdout and "Merkle tree matches" in verified.stdout

    # the appends of three processes built one Merkle tree (issue 17): the signed checkpoint's
    # root is the one computed here from the events, and the proofs check out against it
    key = VerifierKey.parse(requests.get(f"{served.base}/log-key", timeout=TIMEOUT).text)
    checkpoint = key.open_checkpoint(requests.get(f"{served.base}/datasets/{dataset}/checkpoint",
                                                  headers=auth, timeout=TIMEOUT).text)
    leaves = [event_leaf_hash(e) for e in events]
    assert (checkpoint.size, checkpoint.root) == (len(events), merkle_root(leaves))
    for index in (0, 1, len(events) // 2, len(events) - 1):
        proof = requests.get(f"{served.base}/datasets/{dataset}/proofs/inclusion", headers=auth,
                             params={"event": events[index]["uuid"]}, timeout=TIMEOUT).json()
        assert verify_inclusion(leaves[index], proof["index"], checkpoint.size,
                                decode_hashes(proof["hashes"]), checkpoint.root)
    middle = len(events) // 3
    proof = requests.get(f"{served.base}/datasets/{dataset}/proofs/consistency", headers=auth,
                         params={"from": middle}, timeout=TIMEOUT).json()
    assert verify_consistency(middle, checkpoint.size, merkle_root(leaves[:middle]),
                              checkpoint.root, decode_hashes(proof["hashes"]))


# --- the command itself -------------------------------------------------------------------------


def test_serve_help_lists_its_options(gonk_proc: Any) -> None:
    result = gonk_proc.run_cli("serve", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--host", "--port", "--workers", "--threads", "--timeout", "--access-log",
                   "--max-json-bytes", "--max-stream-bytes"):
        assert option in result.stdout, option


def test_serve_before_init_fails_and_says_run_init(tmp_path: Path, gonk_proc: Any) -> None:
    data_dir = tmp_path / "gonk-data"
    result = gonk_proc.run_cli("serve", "--port", str(gonk_proc.free_port()), data_dir=data_dir,
                               timeout=30)
    assert result.returncode == 1
    assert "init" in result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists()  # nothing was created
