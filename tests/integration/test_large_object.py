"""A large object (~300 MiB) goes in and out of a real `gonk-api serve --workers 1 --threads 1`
streamed: the bytes come back identical, the hash is the server's own (computed while
streaming), and the worker's peak resident memory grows by far less than the object (< 100 MiB).
The JSON load endpoint, whose limit is smaller than the object, answers its metadata with
"bytes": null and bytes_url pointing to /bytes.

Neither side holds the object: the test generates it chunk by chunk from a seeded generator
(requests sends a generator body chunked) and hashes the download as it arrives.
"""

from __future__ import annotations

import base64
import hashlib
import random
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from tests.support.processes import child_pids, status_kib

MIB = 1024 * 1024
CHUNK = MIB
SIZE = 300 * MIB + 12_345  # not a whole number of chunks
SEED = 3
MAX_JSON = 16 * MIB
MAX_GROWTH = 100 * MIB
DATASET = "big"
TIMEOUT = 300


class Source:
    """The object's bytes, generated chunk by chunk (the same bytes every time for a seed);
    hashes what it yields and keeps two chunks to check ranges against."""

    def __init__(self, seed: int, size: int) -> None:
        self.seed, self.size = seed, size
        self.sha = hashlib.sha256()
        self.kept: dict[int, bytes] = {}

    def chunks(self) -> Iterator[bytes]:
        rng = random.Random(self.seed)
        sent, index = 0, 0
        while sent < self.size:
            chunk = rng.randbytes(min(CHUNK, self.size - sent))
            self.sha.update(chunk)
            if index in (137, self.size // CHUNK):
                self.kept[sent] = chunk
            sent += len(chunk)
            index += 1
            yield chunk


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory, gonk_proc: Any) -> Iterator[SimpleNamespace]:
    """The server, its one worker, and the large object uploaded and downloaded once, with the
    worker's peak memory before, after the upload, and after the download."""
    data_dir = tmp_path_factory.mktemp("large") / "gonk-data"
    init = gonk_proc.run_cli("init", "--username", "alice", data_dir=data_dir)
    assert init.returncode == 0, init.stderr
    key = gonk_proc.last_line(init.stdout)
    server = gonk_proc.start_server(
        data_dir, key, "serve",
        ["--workers", "1", "--threads", "1", "--max-json-bytes", str(MAX_JSON)],
        new_session=True)
    try:
        base, auth = server.base, {"x-api-key": key}
        (worker,) = child_pids(server.proc.pid)
        assert requests.post(f"{base}/datasets", json={"name": DATASET}, headers=auth,
                             timeout=TIMEOUT).status_code == 200
        # warm up the worker on every path the large object will take, with a small object
        small = requests.post(f"{base}/datasets/{DATASET}/objects", params={"name": "small.bin"},
                              data=iter([b"warm", b"up"]), timeout=TIMEOUT,
                              headers={**auth, "Content-Type": "application/octet-stream"})
        assert small.status_code == 200, small.text
        small_uuid = small.json()["uuid"]
        for suffix in ("", "/bytes"):
            resp = requests.get(f"{base}/datasets/{DATASET}/objects/{small_uuid}/0{suffix}",
                                headers=auth, timeout=TIMEOUT)
            assert resp.status_code == 200, resp.text
        peak_before = status_kib(worker, "VmHWM") * 1024
        rss_before = status_kib(worker, "VmRSS") * 1024

        source = Source(SEED, SIZE)
        started = time.monotonic()
        uploaded = requests.post(f"{base}/datasets/{DATASET}/objects",
                                 params={"name": "video.bin"}, data=source.chunks(),
                                 headers={**auth, "Content-Type": "video/mp4"}, timeout=TIMEOUT)
        upload_seconds = time.monotonic() - started
        assert uploaded.status_code == 200, uploaded.text
        peak_after_upload = status_kib(worker, "VmHWM") * 1024

        started = time.monotonic()
        download_sha, download_size = hashlib.sha256(), 0
        with requests.get(f"{base}/datasets/{DATASET}/objects/{uploaded.json()['uuid']}/0/bytes",
                          headers=auth, stream=True, timeout=TIMEOUT) as resp:
            assert resp.status_code == 200, resp.text
            headers = dict(resp.headers)
            for chunk in resp.iter_content(CHUNK):
                download_sha.update(chunk)
                download_size += len(chunk)
        download_seconds = time.monotonic() - started
        peak_after_download = status_kib(worker, "VmHWM") * 1024
        assert child_pids(server.proc.pid) == [worker], "the worker was replaced meanwhile"

        print(f"\n{SIZE / MIB:.0f} MiB up in {upload_seconds:.1f} s "
              f"({SIZE / MIB / upload_seconds:.0f} MiB/s), down in {download_seconds:.1f} s "
              f"({SIZE / MIB / download_seconds:.0f} MiB/s); worker RSS before "
              f"{rss_before / MIB:.1f} MiB, peak before {peak_before / MIB:.1f} MiB, "
              f"after upload {peak_after_upload / MIB:.1f} MiB, after download "
              f"{peak_after_download / MIB:.1f} MiB")
        yield SimpleNamespace(
            base=base, auth=auth, data_dir=data_dir, source=source,
            uuid=uploaded.json()["uuid"], headers=headers, download_size=download_size,
            download_sha=download_sha.hexdigest(), peak_before=peak_before,
            peak_after_upload=peak_after_upload, peak_after_download=peak_after_download)
    finally:
        server.stop()


def test_large_object_comes_back_identical(big: SimpleNamespace) -> None:
    expected = big.source.sha.hexdigest()
    assert big.download_size == SIZE
    assert big.download_sha == expected
    assert big.headers["Content-Type"] == "video/mp4"
    assert big.headers["Content-Length"] == str(SIZE)
    assert big.headers["ETag"] == f'"{expected}"'


def test_server_hashed_the_stream_and_recorded_its_size(big: SimpleNamespace) -> None:
    events = requests.get(f"{big.base}/datasets/{DATASET}/events", headers=big.auth,
                          timeout=TIMEOUT).json()
    (created,) = [e for e in events if e["type"] == "ObjectCreateEvent"
                  and e["object"]["uuid"] == big.uuid]
    assert created["object"]["hash"] == big.source.sha.hexdigest()
    assert created["object"]["size"] == SIZE
    assert created["object"]["format"] == "video/mp4"
    # nothing of the upload is left behind in the temporary directory
    assert list((big.data_dir / "blobs" / "tmp").iterdir()) == []


def test_worker_memory_stays_flat_while_streaming(big: SimpleNamespace) -> None:
    upload_growth = big.peak_after_upload - big.peak_before
    download_growth = big.peak_after_download - big.peak_before
    assert upload_growth < MAX_GROWTH, f"upload grew the worker by {upload_growth / MIB:.0f} MiB"
    assert download_growth < MAX_GROWTH, (
        f"download grew the worker by {download_growth / MIB:.0f} MiB")


def test_ranges_of_the_large_object(big: SimpleNamespace) -> None:
    url = f"{big.base}/datasets/{DATASET}/objects/{big.uuid}/0/bytes"
    for offset, chunk in big.source.kept.items():
        end = offset + len(chunk) - 1
        resp = requests.get(url, headers={**big.auth, "Range": f"bytes={offset}-{end}"},
                            timeout=TIMEOUT)
        assert resp.status_code == 206
        assert resp.headers["Content-Range"] == f"bytes {offset}-{end}/{SIZE}"
        assert resp.content == chunk
    resp = requests.get(url, headers={**big.auth, "Range": f"bytes={SIZE}-"}, timeout=TIMEOUT)
    assert resp.status_code == 416


def test_json_load_of_the_large_object_points_to_bytes(big: SimpleNamespace) -> None:
    resp = requests.get(f"{big.base}/datasets/{DATASET}/objects/{big.uuid}/0", headers=big.auth,
                        timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["bytes"] is None and body["object"]["size"] == SIZE
    assert body["bytes_url"] == f"/datasets/{DATASET}/objects/{big.uuid}/0/bytes"
    # an object within the JSON limit still loads as JSON
    data = bytes(range(256)) * 1024
    created = requests.post(f"{big.base}/datasets/{DATASET}/objects",
                            params={"name": "medium.bin"}, data=data, timeout=TIMEOUT,
                            headers={**big.auth, "Content-Type": "application/octet-stream"})
    assert created.status_code == 200, created.text
    loaded = requests.get(f"{big.base}/datasets/{DATASET}/objects/{created.json()['uuid']}/0",
                          headers=big.auth, timeout=TIMEOUT)
    assert loaded.status_code == 200, loaded.text
    assert base64.b64decode(loaded.json()["bytes"]) == data
