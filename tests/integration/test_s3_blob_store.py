"""The S3 blob store against a real S3 server (moto's, in its own process): round trips, streamed
multipart uploads that leave nothing behind when refused, garbage collection and its races with
writers, startup checks, and the blob store URLs."""

from __future__ import annotations

import gc
import hashlib
import socket
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from gonk.storage import blobs as blobs_module
from gonk.storage.blobs import (
    CHUNK,
    BlobStoreUnavailable,
    BlobTooLarge,
    open_blob_store,
)
from gonk.storage.blobs.local import LocalBlobStore
from tests.support.s3 import missing_service, s3_client, use_s3_endpoint

try:
    from gonk.storage.blobs.s3 import PART_SIZE, S3BlobStore
except ImportError as exc:  # boto3 missing: the module is skipped (or fails, if required)
    missing_service(f"boto3 is not installed: pip install 'gonk[s3]' ({exc})")

MiB = 1024**2
PREFIX = "team/gonk"
LATER = 10.0  # an `older_than` this far in the future makes every blob "old" (S3's times are
#              the server's, to the second: a test cannot age an object)


@pytest.fixture
def store(bucket: str, tmp_path: Path) -> S3BlobStore:
    opened = open_blob_store(f"s3://{bucket}/{PREFIX}", tmp_path)
    assert isinstance(opened, S3BlobStore)
    opened.create()
    opened.check()
    return opened


@pytest.fixture
def raw(s3_endpoint: str) -> Any:
    return s3_client(s3_endpoint)


def _keys(raw: Any, bucket: str) -> list[str]:
    pages = raw.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _unfinished_uploads(raw: Any, bucket: str) -> list[dict[str, Any]]:
    return raw.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def _blob_key(digest: str) -> str:
    return f"{PREFIX}/blobs/{digest}"


def _pseudo_random_chunks(total: int, size: int = CHUNK) -> Iterator[bytes]:
    """Incompressible, reproducible bytes, made one chunk at a time (never all in memory)."""
    counter = 0
    produced = 0
    while produced < total:
        block = bytearray()
        while len(block) < size:
            block += hashlib.sha512(counter.to_bytes(8, "big")).digest()
            counter += 1
        chunk = bytes(block[:min(size, total - produced)])
        produced += len(chunk)
        yield chunk


def _count_calls(store: S3BlobStore, operation: str) -> list[dict[str, Any]]:
    """Record the parameters of every call of one S3 operation the store makes."""
    calls: list[dict[str, Any]] = []
    store.client.meta.events.register(f"provide-client-params.s3.{operation}",
                                      lambda params, **_: calls.append(dict(params)))
    return calls


# --- round trips -------------------------------------------------------------------------------


def test_put_get_exists_size_round_trip(store: S3BlobStore, raw: Any, bucket: str) -> None:
    data = b"some bytes"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert _keys(raw, bucket) == [_blob_key(digest)]  # straight to its final key
    assert store.get(digest) == data
    assert store.exists(digest)
    assert store.size(digest) == len(data)
    assert abs(store.stat(digest).modified - time.time()) < 60
    assert store.local_path(digest) is None
    assert store.describe() == f"s3://{bucket}/{PREFIX}"


def test_a_missing_blob_is_file_not_found(store: S3BlobStore) -> None:
    missing = "0" * 64
    assert not store.exists(missing)
    with pytest.raises(FileNotFoundError):
        store.get(missing)
    with pytest.raises(FileNotFoundError):
        store.size(missing)
    with pytest.raises(FileNotFoundError):
        store.read_range(missing, 0, 10)
    with pytest.raises(ValueError):
        store.exists("../../etc/passwd")


def test_read_range_streams_the_asked_bytes_in_chunks(store: S3BlobStore) -> None:
    data = b"".join(_pseudo_random_chunks(3 * MiB + 123))
    digest = store.put(data)
    whole = list(store.read_range(digest, 0, len(data) - 1))
    assert b"".join(whole) == data
    assert len(whole) == 4 and all(len(chunk) <= CHUNK for chunk in whole)
    assert b"".join(store.read_range(digest, 5, 10)) == data[5:11]
    assert b"".join(store.read_range(digest, len(data) - 3, len(data) + 100)) == data[-3:]
    assert store.head(digest, 7) == data[:7]
    assert store.head(digest, len(data) + 100) == data
    assert store.head(digest, 0) == b""
    assert b"".join(store.read_range(digest, len(data) + 1, len(data) + 5)) == b""
    assert b"".join(store.read_range(digest, 7, 6)) == b""
    stream = store.read_range(digest, 0, len(data) - 1)
    assert len(next(stream)) == CHUNK
    stream.close()  # a client gone midway: the body is released, nothing more comes
    assert list(stream) == []


def test_the_same_bytes_are_one_key_rewritten_on_every_put(store: S3BlobStore, raw: Any,
                                                           bucket: str) -> None:
    """Every write rewrites the blob, which refreshes its time (gc keeps young blobs)."""
    first = store.put_stream([b"ab", b"cd"])
    written = store.stat(first.digest).modified
    time.sleep(1.1)  # S3's times have one-second resolution
    assert store.put(b"abcd") == first.digest
    assert store.stat(first.digest).modified > written
    assert store.put_stream([b"a", b"bcd"]) == first
    assert _keys(raw, bucket) == [_blob_key(first.digest)]


def test_a_small_stream_is_one_put_and_leaves_no_temporary_key(
        store: S3BlobStore, raw: Any, bucket: str) -> None:
    multipart = _count_calls(store, "CreateMultipartUpload")
    stored = store.put_stream(iter([b"x" * 1000, b"y" * 1000]))
    assert stored.size == 2000
    assert store.get(stored.digest) == b"x" * 1000 + b"y" * 1000
    assert multipart == []
    assert _keys(raw, bucket) == [_blob_key(stored.digest)]


def test_an_empty_stream_is_an_empty_blob(store: S3BlobStore) -> None:
    stored = store.put_stream(iter([]))
    assert stored.digest == hashlib.sha256(b"").hexdigest() and stored.size == 0
    assert store.get(stored.digest) == b""
    assert b"".join(store.read_range(stored.digest, 0, -1)) == b""


def test_a_40_mib_stream_goes_up_in_parts_and_comes_back_identical(
        store: S3BlobStore, raw: Any, bucket: str) -> None:
    total = 40 * MiB + 17
    expected = hashlib.sha256()
    for chunk in _pseudo_random_chunks(total):
        expected.update(chunk)
    parts = _count_calls(store, "UploadPart")
    stored = store.put_stream(_pseudo_random_chunks(total))
    assert (stored.digest, stored.size) == (expected.hexdigest(), total)
    assert len(parts) == 6  # five full 8 MiB parts and the rest
    assert all(part["Key"].startswith(f"{PREFIX}/tmp/upload-") for part in parts)
    assert store.size(stored.digest) == total
    read_back = hashlib.sha256()
    for chunk in store.read_range(stored.digest, 0, total - 1):
        assert len(chunk) <= CHUNK
        read_back.update(chunk)
    assert read_back.hexdigest() == stored.digest
    assert _keys(raw, bucket) == [_blob_key(stored.digest)]
    assert _unfinished_uploads(raw, bucket) == []


def test_a_part_that_is_sent_again_is_not_kept_in_memory(store: S3BlobStore) -> None:
    """boto3 retries a part that timed out; the failed attempt's exception stays in a reference
    cycle with botocore's frames and ours, which only Python's cyclic collector frees (in a busy
    server, possibly much later). With that collector off, a stream of three parts whose first
    two time out once still peaks below three parts: no part outlives its request. (Two, not
    all: boto3 waits a second or so before each retry.)"""
    total = 2 * PART_SIZE + 17
    timed_out: set[str] = set()

    def time_out_once(request: Any, **_: Any) -> None:
        # one URL per part (it names the part's number)
        if request.url not in timed_out and len(timed_out) < 2:
            timed_out.add(request.url)
            raise ReadTimeoutError(endpoint_url=request.url)

    events = store.client.meta.events  # the client is shared by the process: unregister after
    events.register("before-send.s3.UploadPart", time_out_once)
    gc.disable()
    tracemalloc.start()
    try:
        stored = store.put_stream(_pseudo_random_chunks(total))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.enable()
        events.unregister("before-send.s3.UploadPart", time_out_once)
    assert len(timed_out) == 2  # parts 1 and 2 were sent twice
    assert peak < 3 * PART_SIZE, f"the upload peaked at {peak / MiB:.0f} MiB"
    read_back = hashlib.sha256()
    for chunk in store.read_range(stored.digest, 0, total - 1):
        read_back.update(chunk)
    assert (read_back.hexdigest(), stored.size) == (stored.digest, total)


@pytest.mark.parametrize("limit", [15, PART_SIZE * 2 + 5])  # refused in the first part, or later
def test_too_large_stream_leaves_nothing(store: S3BlobStore, raw: Any, bucket: str,
                                         limit: int) -> None:
    multipart = _count_calls(store, "CreateMultipartUpload")
    with pytest.raises(BlobTooLarge) as refused:
        store.put_stream(_pseudo_random_chunks(limit + 1, size=MiB if limit > MiB else 10),
                         max_bytes=limit)
    assert refused.value.limit == limit
    assert bool(multipart) == (limit > PART_SIZE)  # the large case did start a multipart upload
    assert _keys(raw, bucket) == []
    assert _unfinished_uploads(raw, bucket) == []


def test_a_stream_broken_midway_leaves_nothing(store: S3BlobStore, raw: Any,
                                               bucket: str) -> None:
    def cut_off() -> Iterator[bytes]:
        yield from _pseudo_random_chunks(PART_SIZE + MiB)
        raise ConnectionError("the client went away")

    with pytest.raises(ConnectionError):
        store.put_stream(cut_off())
    assert _keys(raw, bucket) == []
    assert _unfinished_uploads(raw, bucket) == []


def test_blobs_under_another_prefix_are_not_this_stores(store: S3BlobStore, bucket: str,
                                                        tmp_path: Path) -> None:
    other = open_blob_store(f"s3://{bucket}/elsewhere", tmp_path)
    theirs = other.put(b"not ours")
    ours = store.put(b"ours")
    assert [digest for digest, _ in store.all_blobs()] == [ours]
    assert not store.exists(theirs)


# --- garbage collection ------------------------------------------------------------------------


def test_all_blobs_and_temporary_uploads(store: S3BlobStore, raw: Any, bucket: str) -> None:
    digests = {store.put(b"one"), store.put_stream([b"two"]).digest}
    listed = dict(store.all_blobs())
    assert set(listed) == digests
    assert all(abs(when - time.time()) < 60 for when in listed.values())
    assert list(store.temporary_uploads()) == []

    # leftovers of uploads killed midway: a temporary key, and a multipart upload with a part
    raw.put_object(Bucket=bucket, Key=f"{PREFIX}/tmp/upload-killed", Body=b"half")
    key = f"{PREFIX}/tmp/upload-killed-in-parts"
    upload = raw.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    raw.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"p" * 100)
    copy = raw.create_multipart_upload(Bucket=bucket, Key=_blob_key("b" * 64))["UploadId"]
    raw.upload_part(Bucket=bucket, Key=_blob_key("b" * 64), UploadId=copy, PartNumber=1,
                    Body=b"c")  # (moto dates every upload's start in 2010: its parts tell)
    # other applications' uploads in a shared bucket are not ours to abort
    for key in (f"{PREFIX}/other/x", "other-app/y"):
        raw.create_multipart_upload(Bucket=bucket, Key=key)
    leftovers = dict(store.temporary_uploads())
    assert set(leftovers) == {"tmp/upload-killed", f"tmp/upload-killed-in-parts#{upload}",
                              f"blobs/{'b' * 64}#{copy}"}  # the last: a large copy killed
    assert all(abs(when - time.time()) < 60 for when in leftovers.values())

    for name in leftovers:
        store.remove_temporary(name)
    store.remove_temporary("tmp/upload-killed")  # gone already: fine
    assert list(store.temporary_uploads()) == []
    assert sorted(u["Key"] for u in _unfinished_uploads(raw, bucket)) == [
        "other-app/y", f"{PREFIX}/other/x"]
    assert _keys(raw, bucket) == sorted(_blob_key(d) for d in digests)
    for bad in ("blobs/" + next(iter(digests)), "../tmp/upload-x", "", "tmp/other",
                "tmp/upload-x/../../../other-app/y", "other-app/y#id", "../x#id"):
        with pytest.raises(ValueError):
            store.remove_temporary(bad)


def test_collect_removes_an_old_unreferenced_blob(store: S3BlobStore, raw: Any,
                                                  bucket: str) -> None:
    digest = store.put(b"garbage")
    assert store.collect(digest, time.time() + LATER, lambda: False) == len(b"garbage")
    assert not store.exists(digest)
    assert _keys(raw, bucket) == []  # the aside copy is gone too


def test_collect_leaves_a_young_blob_alone(store: S3BlobStore, raw: Any, bucket: str) -> None:
    digest = store.put(b"just written")
    asked: list[bool] = []
    assert store.collect(digest, time.time() - 60, lambda: asked.append(True) or False) == 0
    assert store.get(digest) == b"just written"
    assert asked == []
    assert _keys(raw, bucket) == [_blob_key(digest)]


def test_collect_keeps_a_blob_that_is_referenced_once_removed(store: S3BlobStore, raw: Any,
                                                              bucket: str) -> None:
    digest = store.put(b"committed meanwhile")
    while_asked: list[bool] = []

    def referenced() -> bool:
        while_asked.append(store.exists(digest))
        return True

    assert store.collect(digest, time.time() + LATER, referenced) == 0
    assert while_asked == [False]  # asked after the delete, when no write can slip through
    assert store.get(digest) == b"committed meanwhile"
    assert _keys(raw, bucket) == [_blob_key(digest)]


class ConcurrentWriter:
    """`store.put(data)` in another thread, as a write in another process would run alongside
    gc (in gc's own thread it would wait for gc to finish with the blob). `start()` returns
    once its PutObject has landed (it then goes on to look for gc's aside copy)."""

    def __init__(self, store: S3BlobStore, data: bytes) -> None:
        self.landed = threading.Event()
        self.results: list[str] = []
        self.thread = threading.Thread(target=lambda: self.results.append(store.put(data)))
        store.client.meta.events.register("after-call.s3.PutObject",
                                          lambda **_: self.landed.set())

    def start(self) -> None:
        self.thread.start()
        assert self.landed.wait(10), "the concurrent write did not land"

    def finish(self) -> list[str]:
        self.thread.join(30)
        assert not self.thread.is_alive(), "the concurrent write is stuck"
        return self.results


@pytest.mark.parametrize("committed", [False, True])
def test_collect_keeps_a_blob_written_again_while_it_decides(
        store: S3BlobStore, raw: Any, bucket: str, committed: bool) -> None:
    """A writer puts the bytes again after gc deleted them; its event may or may not have
    committed by the time gc asks. Either way the blob stays, and the writer does not wait."""
    digest = store.put(b"written again")
    writer = ConcurrentWriter(store, b"written again")

    def a_write_happens() -> bool:
        writer.start()
        return committed

    gc = S3BlobStore(bucket, PREFIX)
    assert gc.collect(digest, time.time() + LATER, a_write_happens) == 0
    assert writer.finish() == [digest]
    assert store.get(digest) == b"written again"
    assert _keys(raw, bucket) == [_blob_key(digest)]


def test_a_write_that_gc_deletes_before_its_event_commits_is_written_again(
        store: S3BlobStore, raw: Any, bucket: str) -> None:
    """The race S3 cannot close by itself: a write lands after gc copied the blob aside and
    checked its time, gc then deletes it, and the writer's event commits only after gc asked.
    The writer sees gc's aside copy, watches the blob, and stores it again once gc deleted it."""
    data = b"the race"
    digest = store.put(data)
    final = _blob_key(digest)
    writer = ConcurrentWriter(store, data)

    def before_gc_deletes(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == final and not writer.landed.is_set():
            writer.start()

    gc = S3BlobStore(bucket, PREFIX)  # gc runs in another process, with its own client
    gc.client.meta.events.register("provide-client-params.s3.DeleteObject", before_gc_deletes)
    gc.collect(digest, time.time() + LATER, lambda: False)  # frees it or not, by timing
    assert writer.finish() == [digest]
    assert store.get(digest) == data  # there before the writer's event could commit
    assert _keys(raw, bucket) == [final]


def test_restore_set_aside_puts_back_what_a_killed_gc_left(store: S3BlobStore, raw: Any,
                                                           bucket: str) -> None:
    moved = store.put(b"moved aside, then gc died")
    copied = store.put(b"copied aside, then gc died")
    for digest in (moved, copied):
        raw.copy_object(Bucket=bucket, Key=f"{PREFIX}/gc/{digest}",
                        CopySource={"Bucket": bucket, "Key": _blob_key(digest)})
    raw.delete_object(Bucket=bucket, Key=_blob_key(moved))
    assert store.restore_set_aside() == 2
    assert store.get(moved) == b"moved aside, then gc died"
    assert store.get(copied) == b"copied aside, then gc died"
    assert _keys(raw, bucket) == sorted([_blob_key(moved), _blob_key(copied)])
    assert store.restore_set_aside() == 0


# --- startup checks ------------------------------------------------------------------------------


def test_check_passes_and_leaves_nothing(store: S3BlobStore, raw: Any, bucket: str) -> None:
    store.check()
    assert _keys(raw, bucket) == []


def test_check_reports_a_missing_bucket(s3_endpoint: str, tmp_path: Path) -> None:
    store = open_blob_store("s3://no-such-bucket-for-gonk/x", tmp_path)
    with pytest.raises(BlobStoreUnavailable) as failed:
        store.check()
    message = str(failed.value)
    assert "no-such-bucket-for-gonk" in message and "does not exist" in message
    assert "\n" not in message


def test_check_reports_an_unreachable_endpoint_quickly(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_s3_endpoint(monkeypatch, "http://127.0.0.1:1")
    store = open_blob_store("s3://bucket", tmp_path)
    started = time.monotonic()
    with pytest.raises(BlobStoreUnavailable) as failed:
        store.check()
    assert time.monotonic() - started < 15
    message = str(failed.value)
    assert "http://127.0.0.1:1" in message and "\n" not in message


def test_check_reports_an_endpoint_that_does_not_answer_quickly(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A server that accepts connections and never answers (hung, or a firewall that lets the
    handshake through)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections complete in the kernel; nothing ever reads them
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        use_s3_endpoint(monkeypatch, endpoint)
        store = open_blob_store("s3://bucket", tmp_path)
        started = time.monotonic()
        with pytest.raises(BlobStoreUnavailable) as failed:
            store.check()
        assert time.monotonic() - started < 20
    assert endpoint in str(failed.value)


def test_check_reports_missing_credentials(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path, bucket: str) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(BlobStoreUnavailable, match="AWS_ACCESS_KEY_ID"):
        open_blob_store(f"s3://{bucket}", tmp_path).check()


# --- blob store URLs ---------------------------------------------------------------------------


def test_blob_store_urls(tmp_path: Path, s3_endpoint: str) -> None:
    for default in (None, ""):
        local = open_blob_store(default, tmp_path)
        assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "blobs"
    for url in (f"file://{tmp_path}/b", f"file://localhost{tmp_path}/b", f"file://{tmp_path}/b/"):
        local = open_blob_store(url, tmp_path / "ignored")
        assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "b", url
    assert open_blob_store("file:///with%20space", tmp_path).describe() == "files in /with space"
    for url, prefix in (("s3://bkt", ""), ("s3://bkt/", ""), ("s3://bkt/a/b", "a/b"),
                        ("s3://bkt/a/b/", "a/b")):
        s3 = open_blob_store(url, tmp_path)
        assert isinstance(s3, S3BlobStore) and (s3.bucket, s3.prefix) == ("bkt", prefix), url
        assert s3.describe() == ("s3://bkt/a/b" if prefix else "s3://bkt")


@pytest.mark.parametrize("url", [
    "s3://", "s3:///prefix", "s3://bkt?versionId=1", "s3://user@bkt/p", "s3://bkt:9000/p",
    "file://relative/path", "file:relative", "file:///x#frag", "/absolute/path",
    "relative/path", "http://example.com/bucket", "gs://bucket", "S4://bucket",
])
def test_other_blob_store_urls_are_refused_with_the_accepted_forms(url: str,
                                                                   tmp_path: Path) -> None:
    with pytest.raises(ValueError) as refused:
        open_blob_store(url, tmp_path)
    message = str(refused.value)
    assert "file:///" in message and "s3://bucket" in message and "\n" not in message


def test_an_s3_url_without_boto3_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` now fails
    monkeypatch.delitem(sys.modules, "gonk.storage.blobs.s3")
    with pytest.raises(BlobStoreUnavailable, match=r"pip install 'gonk\[s3\]'"):
        open_blob_store("s3://bucket", tmp_path)
    assert blobs_module.open_blob_store(None, tmp_path) is not None  # local still works
