"""An installation whose bytes live in S3 (moto's server): the raw-bytes route answers exactly
as it does for local files, header for header, and `gonk-api gc` collects the bucket as it does
the directory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gonk import garbage, service
from gonk.api import create_app
from gonk.installation import Installation
from gonk.storage.blobs import CHUNK
from gonk.storage.datasets import get as dataset_row
from gonk.storage.log import event_bodies
from gonk.users import add_user
from gonk.verify import verify_dataset
from tests.support.http import LABEL_SCHEMA
from tests.support.s3 import missing_service, s3_client

try:
    from gonk.storage.blobs.s3 import S3BlobStore
except ImportError as exc:
    missing_service(f"boto3 is not installed: pip install 'gonk[s3]' ({exc})")

DS = "ds"
PREFIX = "gonk"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
MiB = 1024**2


@pytest.fixture
def s3_instance(tmp_path: Path, bucket: str) -> Iterator[Installation]:
    """An installation (SQLite) whose bytes are moved to a bucket of its own."""
    installation = Installation.create(tmp_path / "s3")
    installation.blobs = S3BlobStore(bucket, PREFIX)
    installation.blobs.check()
    yield installation
    installation.close()


def _keys(s3_endpoint: str, bucket: str, under: str = "") -> list[str]:
    pages = s3_client(s3_endpoint).get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{PREFIX}/{under}")
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


class Site:
    """An app on an installation, with alice's dataset, as a client sees it."""

    def __init__(self, installation: Installation) -> None:
        self.installation = installation
        self.app = create_app(installation=installation)
        self.app.config["TESTING"] = True
        self.client = self.app.test_client()
        self.key = add_user(installation, "alice")
        assert self.post("/datasets", json={"name": DS}).status_code == 200

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(path, headers={"x-api-key": self.key}, **kwargs)

    def upload(self, data: bytes, name: str = "pic.png", mimetype: str = "image/png") -> str:
        resp = self.post(f"/datasets/{DS}/objects?name={name}", data=data,
                         content_type=mimetype)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()["uuid"]

    def get_bytes(self, uuid: str, method: str = "GET", **headers: str) -> Any:
        return self.client.open(f"/datasets/{DS}/objects/{uuid}/0/bytes", method=method,
                                headers={"x-api-key": self.key, **headers})


@pytest.fixture
def s3_site(s3_instance: Installation) -> Site:
    return Site(s3_instance)


@pytest.fixture
def local_site(tmp_path: Path) -> Iterator[Site]:
    installation = Installation.create(tmp_path / "local")
    yield Site(installation)
    installation.close()


# --- the raw-bytes route -------------------------------------------------------------------------


def _conditions(data: bytes) -> list[tuple[str, dict[str, str]]]:
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    size = len(data)
    return [
        ("GET", {}),
        ("HEAD", {}),
        ("GET", {"Range": "bytes=8-15"}),
        ("GET", {"Range": "bytes=-4"}),
        ("GET", {"Range": "bytes=100-"}),
        ("GET", {"Range": f"bytes=0-{size + 1000}"}),
        ("GET", {"Range": f"bytes={size + 10}-"}),
        ("GET", {"Range": "bytes=0-1,4-5"}),
        ("GET", {"Range": "pages=1-2"}),
        ("HEAD", {"Range": "bytes=8-15"}),
        ("GET", {"If-None-Match": etag}),
        ("HEAD", {"If-None-Match": etag}),
        ("GET", {"If-None-Match": '"someone-else"'}),
        ("GET", {"If-None-Match": "*"}),
        ("GET", {"If-None-Match": f"W/{etag}"}),
        ("GET", {"If-Match": etag}),
        ("GET", {"Range": "bytes=8-15", "If-Range": etag}),
        ("GET", {"Range": "bytes=8-15", "If-Range": '"stale"'}),
        ("GET", {"Range": "bytes=8-15", "If-None-Match": etag}),
        ("GET", {"If-Modified-Since": "Wed, 21 Oct 2099 07:28:00 GMT"}),
        ("GET", {"If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    ]


VARYING = {"Date", "Last-Modified"}  # each installation's own clock and blob times


@pytest.mark.parametrize("data", [PNG, b"", b"x"], ids=["png", "empty", "one byte"])
def test_bytes_route_answers_the_same_from_s3_as_from_files(
        local_site: Site, s3_site: Site, data: bytes) -> None:
    """Every kind of request, asked of both installations: the same status, headers and
    body (Date and Last-Modified aside, whose values are each installation's own)."""
    uuids = {site: site.upload(data) for site in (local_site, s3_site)}
    for method, headers in _conditions(data):
        local = local_site.get_bytes(uuids[local_site], method, **headers)
        s3 = s3_site.get_bytes(uuids[s3_site], method, **headers)
        label = (method, headers)
        assert s3.status_code == local.status_code, label
        assert s3.data == local.data, label
        assert set(s3.headers.keys()) == set(local.headers.keys()), label
        for name, value in local.headers.items():
            if name not in VARYING:
                assert s3.headers[name] == value, (label, name)


def test_bytes_route_on_s3_streams_with_the_headers_clients_rely_on(s3_site: Site) -> None:
    uuid = s3_site.upload(PNG)
    digest = hashlib.sha256(PNG).hexdigest()
    full = s3_site.get_bytes(uuid)
    assert full.status_code == 200 and full.data == PNG
    assert full.headers["Content-Type"] == "image/png"
    assert full.headers["Content-Length"] == str(len(PNG))
    assert full.headers["ETag"] == f'"{digest}"'
    assert full.headers["Accept-Ranges"] == "bytes"
    assert full.headers["Cache-Control"] == "private, max-age=0, must-revalidate"

    part = s3_site.get_bytes(uuid, Range="bytes=8-15")
    assert part.status_code == 206 and part.data == PNG[8:16]
    assert part.headers["Content-Range"] == f"bytes 8-15/{len(PNG)}"
    assert part.headers["Content-Length"] == "8"
    tail = s3_site.get_bytes(uuid, Range="bytes=-4")
    assert tail.status_code == 206 and tail.data == PNG[-4:]

    past = s3_site.get_bytes(uuid, Range=f"bytes={len(PNG) + 10}-")
    assert past.status_code == 416
    assert past.headers["Content-Range"] == f"bytes */{len(PNG)}"
    assert "error" in past.get_json()

    assert s3_site.get_bytes(uuid, **{"If-None-Match": f'"{digest}"'}).status_code == 304
    matching = s3_site.get_bytes(uuid, Range="bytes=8-15", **{"If-Range": f'"{digest}"'})
    assert matching.status_code == 206 and matching.data == PNG[8:16]
    changed = s3_site.get_bytes(uuid, Range="bytes=8-15", **{"If-Range": '"older"'})
    assert changed.status_code == 200 and changed.data == PNG


def test_a_large_object_is_streamed_from_s3_in_chunks_and_only_the_range_is_read(
        s3_site: Site) -> None:
    data = bytes(range(256)) * (12 * 4096)  # 12 MiB: a streamed upload in two parts
    uuid = s3_site.upload(data, "big.bin", "application/octet-stream")
    ranges: list[str] = []
    s3_site.installation.blobs.client.meta.events.register(
        "provide-client-params.s3.GetObject",
        lambda params, **_: ranges.append(params.get("Range")))

    resp = s3_site.client.get(f"/datasets/{DS}/objects/{uuid}/0/bytes",
                              headers={"x-api-key": s3_site.key}, buffered=False)
    chunks = list(resp.response)
    resp.close()
    assert b"".join(chunks) == data
    assert len(chunks) == 12 and all(len(chunk) <= CHUNK for chunk in chunks)

    middle = s3_site.get_bytes(uuid, Range="bytes=5000000-5000099")
    assert middle.status_code == 206 and middle.data == data[5000000:5000100]
    assert ranges == [f"bytes=0-{len(data) - 1}", "bytes=5000000-5000099"]
    head = s3_site.get_bytes(uuid, "HEAD")
    assert head.headers["Content-Length"] == str(len(data)) and head.data == b""
    assert s3_site.get_bytes(uuid, **{"If-None-Match": head.headers["ETag"]}).data == b""
    assert len(ranges) == 2  # neither HEAD nor 304 reads the bytes


def test_json_load_and_upload_limits_work_on_s3(s3_site: Site, s3_endpoint: str,
                                                bucket: str) -> None:
    uuid = s3_site.upload(b"hello", "a.txt", "text/plain")
    loaded = s3_site.client.get(f"/datasets/{DS}/objects/{uuid}/0",
                                headers={"x-api-key": s3_site.key})
    assert loaded.status_code == 200 and loaded.get_json()["bytes"] == "aGVsbG8="
    before = _keys(s3_endpoint, bucket)
    s3_site.app.config["GONK_MAX_STREAM_BYTES"] = 1000
    refused = s3_site.post(f"/datasets/{DS}/objects?name=big.bin", data=b"x" * 1001,
                           content_type="application/octet-stream")
    assert refused.status_code == 413
    assert _keys(s3_endpoint, bucket) == before
    assert s3_client(s3_endpoint).list_multipart_uploads(Bucket=bucket).get("Uploads") is None


# --- garbage collection --------------------------------------------------------------------------


@pytest.fixture
def history(s3_instance: Installation, s3_endpoint: str, bucket: str) -> SimpleNamespace:
    """Accepted, rejected, updated and deleted versions, an annotation; and garbage: bytes no
    event references, a temporary key and an unfinished multipart upload of killed uploads."""
    installation = s3_instance
    add_user(installation, "alice")
    service.create_dataset(installation, "alice", DS)

    def review_last(accept: bool) -> None:
        with installation.db.read() as conn:
            last = list(event_bodies(conn, dataset_row(conn, DS).id))[-1]
        service.review(installation, DS, "alice", last["uuid"], accept)

    service.create_schema(installation, DS, "alice", "schema-label",
                          json.dumps(LABEL_SCHEMA).encode())
    review_last(True)
    kept = service.create_object(installation, DS, "alice", "kept.txt", "text/plain",
                                 b"accepted")["uuid"]
    review_last(True)
    service.create_object(installation, DS, "alice", "rejected.txt", "text/plain", b"rejected")
    review_last(False)
    gone = service.create_object(installation, DS, "alice", "gone.txt", "text/plain", b"deleted")
    review_last(True)
    service.delete_object(installation, DS, "alice", gone["uuid"], 0)
    service.update_object(installation, DS, "alice", kept, "kept.txt", "text/plain", b"v1")
    service.create_annotation(installation, DS, "alice", {"name": "schema-label", "version": 0},
                              [{"uuid": kept, "version": 0}], b'{"label": "x"}')
    referenced = set(garbage.referenced_digests(installation))
    assert len(referenced) == 6

    orphans = {installation.blobs.put(b"no event refers to me"),
               installation.blobs.put_stream([b"an upload whose ", b"event never came"]).digest}
    raw = s3_client(s3_endpoint)
    raw.put_object(Bucket=bucket, Key=f"{PREFIX}/tmp/upload-killed", Body=b"half")
    key = f"{PREFIX}/tmp/upload-killed-in-parts"
    upload = raw.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    raw.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"p")
    return SimpleNamespace(installation=installation, referenced=referenced, orphans=orphans,
                           raw=raw)


def _blobs(history: SimpleNamespace) -> set[str]:
    return {digest for digest, _ in history.installation.blobs.all_blobs()}


def test_gc_on_s3_removes_exactly_the_garbage(history: SimpleNamespace, bucket: str) -> None:
    installation = history.installation
    young = garbage.collect(installation, min_age_seconds=3600)  # the default: all of it is young
    assert (young.blobs, young.temporary_files) == (0, 0)
    assert _blobs(history) == history.referenced | history.orphans

    # S3's times are the server's, to the second: a negative age makes "now" old enough
    dry = garbage.collect(installation, min_age_seconds=-5, dry_run=True)
    assert (dry.blobs, dry.temporary_files, dry.kept) == (2, 2, 6)
    assert dry.blob_bytes == sum(installation.blobs.size(d) for d in history.orphans)
    assert _blobs(history) == history.referenced | history.orphans

    done = garbage.collect(installation, min_age_seconds=-5)
    assert (done.blobs, done.blob_bytes, done.temporary_files, done.kept) == (
        dry.blobs, dry.blob_bytes, dry.temporary_files, dry.kept)
    assert _blobs(history) == history.referenced
    assert list(installation.blobs.temporary_uploads()) == []
    assert history.raw.list_multipart_uploads(Bucket=bucket).get("Uploads") is None
    verdict = verify_dataset(installation, DS)
    assert verdict.ok, verdict.message
    again = garbage.collect(installation, min_age_seconds=-5)
    assert (again.blobs, again.temporary_files, again.kept) == (0, 0, 6)


def test_gc_on_s3_keeps_a_blob_referenced_after_it_listed_the_references(
        history: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(garbage, "referenced_digests", lambda installation: set())
    result = garbage.collect(history.installation, min_age_seconds=-5)
    assert result.blobs == 2
    assert _blobs(history) == history.referenced
    assert verify_dataset(history.installation, DS).ok


def test_gc_on_s3_puts_back_what_a_killed_gc_left_aside(history: SimpleNamespace,
                                                         s3_endpoint: str, bucket: str) -> None:
    digest = next(iter(history.referenced))
    final = f"{PREFIX}/blobs/{digest}"
    history.raw.copy_object(Bucket=bucket, Key=f"{PREFIX}/gc/{digest}",
                            CopySource={"Bucket": bucket, "Key": final})
    history.raw.delete_object(Bucket=bucket, Key=final)
    assert not verify_dataset(history.installation, DS).ok  # as a gc killed midway leaves it
    garbage.collect(history.installation, min_age_seconds=3600)
    assert verify_dataset(history.installation, DS).ok
    assert _keys(s3_endpoint, bucket, "gc/") == []
