"""The edges of HTTP, in-process (every storage kind): conditional downloads that fail (412), paths
with empty segments or %2F (404, never a redirect), OPTIONS (JSON with Allow), and request
bodies whose framing the server reports as broken, cut short or too long (400/413, nothing
stored). tests/e2e/test_http_framing.py sends the same mistakes over real sockets."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize, NoMoreData

from tests.support.api import DS, assert_error, create_object, events

BASE = f"/datasets/{DS}/objects"
DATA = b"the bytes of a version, long enough for a range" * 4
# What does not depend on where bytes are stored runs on one storage kind; downloads and raw
# uploads (send_file or the S3 reader; a temporary file or a multipart upload) on every kind.
ONE_STORAGE = pytest.mark.parametrize("storage_kind", ["sqlite-files"], indirect=True)


def _datasets(client: Any) -> list[str]:
    resp = client.get("/datasets")
    assert resp.status_code == 200
    return resp.json


def _blobs(installation: Any) -> list[str]:
    blobs = installation.blobs
    return sorted([d for d, _ in blobs.all_blobs()] + [n for n, _ in blobs.temporary_uploads()])


# --- If-Match --------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "if_match", "extra"), [
    ("GET", '"someone-else"', {}),
    ("GET", '"someone-else"', {"Range": "bytes=0-9"}),
    ("GET", 'W/"{etag}"', {}),  # a weak tag never matches strongly
    ("GET", '"0000", "1111"', {"Range": "bytes=0-9", "If-Range": '"{etag}"'}),
    ("GET", "not-an-etag", {}),
    ("HEAD", '"someone-else"', {}),
])
def test_if_match_that_does_not_match_is_412_json_without_the_bytes(alice, ds, method, if_match,
                                                                    extra):
    uuid = create_object(alice, DATA)
    etag = alice.get(f"{BASE}/{uuid}/0/bytes").headers["ETag"].strip('"')
    extra = {name: value.format(etag=etag) for name, value in extra.items()}
    resp = alice.request(method, f"{BASE}/{uuid}/0/bytes",
                         headers={"x-api-key": alice.key,
                                  "If-Match": if_match.format(etag=etag), **extra})
    assert resp.status_code == 412
    assert resp.mimetype == "application/json"
    assert DATA[:10] not in resp.data
    assert resp.headers["ETag"] == f'"{etag}"'
    if method == "GET":
        assert "If-Match" in resp.json["error"]


@pytest.mark.parametrize("if_match", ['"{etag}"', "*", '"other", "{etag}"'])
def test_if_match_that_matches_sends_the_bytes(alice, ds, if_match):
    uuid = create_object(alice, DATA)
    etag = alice.get(f"{BASE}/{uuid}/0/bytes").headers["ETag"].strip('"')
    headers = {"x-api-key": alice.key, "If-Match": if_match.format(etag=etag)}
    whole = alice.get(f"{BASE}/{uuid}/0/bytes", headers=headers)
    assert (whole.status_code, whole.data) == (200, DATA)
    part = alice.get(f"{BASE}/{uuid}/0/bytes", headers={**headers, "Range": "bytes=0-9"})
    assert (part.status_code, part.data) == (206, DATA[:10])


# --- paths -----------------------------------------------------------------------------------


@ONE_STORAGE
@pytest.mark.parametrize("path", [
    f"/datasets//{DS}/objects",
    f"/datasets/{DS}//objects",
    f"//datasets/{DS}/objects",
    f"/datasets/{DS}/objects//",
    "/datasets//",
    f"/datasets/{DS}%2Fobjects",
    f"/datasets/{DS}%2fobjects",
    f"/datasets%2F{DS}/objects",
    f"/datasets/%2F{DS}/objects",
])
@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no key"])
def test_empty_segments_and_encoded_slashes_are_json_404_never_redirects(alice, ds, path,
                                                                         with_key):
    headers = {"x-api-key": alice.key, "Host": "evil.example"} if with_key \
        else {"Host": "evil.example"}
    resp = alice.get(path, headers=headers)
    body = assert_error(resp, 404)
    assert "Location" not in resp.headers
    assert "No such endpoint" in body["error"]


@ONE_STORAGE
def test_an_encoded_slash_in_the_query_is_fine(alice, ds):
    create_object(alice, b"x", name="2024/owl.txt")
    resp = alice.get(f"{BASE}?name=2024%2Fowl.txt")
    assert resp.status_code == 200
    assert [o["name"] for o in resp.json] == ["2024/owl.txt"]


# --- OPTIONS ---------------------------------------------------------------------------------


@ONE_STORAGE
@pytest.mark.parametrize(("path", "allowed"), [
    ("/datasets", ["GET", "HEAD", "OPTIONS", "POST"]),
    ("/health", ["GET", "HEAD", "OPTIONS"]),
    (f"{BASE}/0d21d5a7-fe93-4618-a122-7ca9a2ee5116", ["GET", "HEAD", "OPTIONS", "PATCH"]),
    (f"{BASE}/0d21d5a7-fe93-4618-a122-7ca9a2ee5116/0", ["DELETE", "GET", "HEAD", "OPTIONS"]),
])
@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no key"])
def test_options_answers_json_and_allow_with_or_without_a_key(alice, path, allowed, with_key):
    resp = alice.request("OPTIONS", path, headers={"x-api-key": alice.key} if with_key else {})
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert resp.json == {"allow": allowed}
    assert sorted(m.strip() for m in resp.headers["Allow"].split(",")) == allowed


@ONE_STORAGE
def test_options_on_an_unknown_path_is_json_404(alice):
    assert_error(alice.request("OPTIONS", "/nowhere"), 404)


# --- request bodies --------------------------------------------------------------------------


class _BrokenInput:
    """wsgi.input as gunicorn's Body behaves on a broken chunked body (it has read() only, no
    readinto()): `good` bytes, then the exception its decoder raises."""

    def __init__(self, good: bytes, error: Exception) -> None:
        self.good, self.error = good, error

    def read(self, size: int = -1) -> bytes:
        if self.good:
            data, self.good = self.good, b""
            return data
        raise self.error


def _post_raw(client: Any, path: str, content_type: str, environ: dict[str, Any],
              data: bytes = b"") -> Any:
    return client.flask.open(path, method="POST", data=data,
                              headers={"x-api-key": client.key, "Content-Type": content_type},
                              environ_overrides=environ)


CHUNKED = {"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"}
BROKEN = [InvalidChunkSize(b"zz"), ChunkMissingTerminator(b"xx"), NoMoreData(b"")]
JSON_ENDPOINTS = [("/datasets", {"name": "fresh"}),
                  (f"/datasets/{DS}/objects", {"name": "n.txt", "mimetype": "text/plain",
                                               "object": "eA=="}),
                  (f"/datasets/{DS}/schemas", {"name": "schema-x", "schema": "e30="})]


@ONE_STORAGE
@pytest.mark.parametrize("error", BROKEN, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(("path", "body"), JSON_ENDPOINTS, ids=lambda v: str(v)[:20])
def test_a_broken_chunked_json_body_is_400_and_changes_nothing(alice, ds, path, body, error):
    before = (events(alice), _datasets(alice))
    data = json.dumps(body).encode()
    resp = _post_raw(alice, path, "application/json",
                     {**CHUNKED, "wsgi.input": _BrokenInput(data[:5], error)})
    assert "body" in assert_error(resp, 400)["error"]
    assert (events(alice), _datasets(alice)) == before


@pytest.mark.parametrize("error", BROKEN, ids=lambda e: type(e).__name__)
def test_a_broken_chunked_upload_is_400_and_stores_nothing(alice, ds, installation, error):
    before = (events(alice), _blobs(installation))
    resp = _post_raw(alice, f"{BASE}?name=x.bin", "application/octet-stream",
                     {**CHUNKED, "wsgi.input": _BrokenInput(b"x" * 100, error)})
    assert_error(resp, 400)
    assert (events(alice), _blobs(installation)) == before


@ONE_STORAGE
def test_a_chunked_json_body_over_the_limit_is_413_not_cut_and_carried_out(app, alice, ds):
    """A valid JSON object, then padding past the limit: werkzeug alone read the first
    MAX_CONTENT_LENGTH bytes as the whole body, parsed them and created the dataset."""
    app.config["MAX_CONTENT_LENGTH"] = 100
    before = _datasets(alice)
    data = b'{"name": "padded"}' + b" " * 200
    resp = _post_raw(alice, "/datasets", "application/json",
                     {**CHUNKED, "wsgi.input": io.BytesIO(data)})
    assert "100 bytes" in assert_error(resp, 413)["error"]
    assert _datasets(alice) == before


@ONE_STORAGE
@pytest.mark.parametrize("size", [99, 100])
def test_a_chunked_json_body_up_to_the_limit_is_fine(app, alice, size):
    app.config["MAX_CONTENT_LENGTH"] = 100
    data = b'{"name": "within"}'
    data += b" " * (size - len(data))
    resp = _post_raw(alice, "/datasets", "application/json",
                     {**CHUNKED, "wsgi.input": io.BytesIO(data)})
    assert resp.status_code == 200, resp.json
    assert "within" in _datasets(alice)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_upload_of_exactly_the_stream_limit_is_stored_one_more_byte_is_413(app, alice, ds,
                                                                              chunked):
    """Under gunicorn (which vouches for the end of every body) werkzeug's stream refused a
    body of exactly the limit with 413 when read to its end."""
    app.config["GONK_MAX_STREAM_BYTES"] = 1000
    for size, status in ((1000, 200), (1001, 413)):
        environ: dict[str, Any] = {"wsgi.input_terminated": True}
        if chunked:
            environ.update(CHUNKED, **{"wsgi.input": io.BytesIO(b"z" * size)})
        resp = _post_raw(alice, f"{BASE}?name=exact-{size}.bin", "application/octet-stream",
                         environ, b"" if chunked else b"z" * size)
        assert resp.status_code == status, resp.json


@ONE_STORAGE
@pytest.mark.parametrize("terminated", [False, True], ids=["run", "serve"])
@pytest.mark.parametrize(("path", "body"), JSON_ENDPOINTS, ids=lambda v: str(v)[:20])
def test_a_json_body_shorter_than_its_content_length_is_400_and_changes_nothing(
        alice, ds, path, body, terminated):
    """The client announced more than it sent (and then closed its end): what arrived parses
    as JSON, but it is not the request the client meant to send."""
    before = (events(alice), _datasets(alice))
    data = json.dumps(body).encode()
    environ: dict[str, Any] = {"CONTENT_LENGTH": str(len(data) + 50),
                               "wsgi.input": io.BytesIO(data)}
    if terminated:
        environ["wsgi.input_terminated"] = True
    resp = _post_raw(alice, path, "application/json", environ)
    assert "Content-Length" in assert_error(resp, 400)["error"]
    assert (events(alice), _datasets(alice)) == before
