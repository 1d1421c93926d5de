"""Raw bytes, beyond the seed: streamed uploads, streamed downloads with ETag and Range, limits."""

from __future__ import annotations

import hashlib
import io

from tests.support.api import (
    DS,
    assert_error,
    create_object,
    create_schema,
    event_of,
    events,
    load_object,
    reject,
)

BASE = f"/datasets/{DS}/objects"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def _raw(client, method, path, data, content_type="image/png"):
    return client.request(method, path, data=data, content_type=content_type)


def _blob_files(installation):
    """Everything the blob store holds (files or bucket keys): stored blobs and uploads."""
    blobs = installation.blobs
    return sorted([d for d, _ in blobs.all_blobs()] + [n for n, _ in blobs.temporary_uploads()])


def test_raw_upload_creates_an_object_of_that_mimetype(alice, ds):
    resp = _raw(alice, "POST", f"{BASE}?name=pic.png", PNG)
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == {"uuid", "version"} and body["version"] == 0
    meta = load_object(alice, body["uuid"])["object"]
    assert meta["format"] == "image/png"
    assert meta["name"] == "pic.png"
    assert meta["size"] == len(PNG)
    assert meta["hash"] == hashlib.sha256(PNG).hexdigest()
    created = events(alice)[-1]
    assert created["type"] == "ObjectCreateEvent" and created["object"] == meta


def test_raw_update_creates_a_new_version_and_follows_the_same_rules(alice, ds):
    uuid = _raw(alice, "POST", f"{BASE}?name=pic.png", PNG).get_json()["uuid"]
    resp = _raw(alice, "PATCH", f"{BASE}/{uuid.upper()}?name=pic2.png", PNG + b"!")
    assert resp.status_code == 200 and resp.get_json() == {"uuid": uuid, "version": 1}
    # unchanged bytes and duplicate bytes are refused exactly as in the JSON form
    assert_error(_raw(alice, "PATCH", f"{BASE}/{uuid}?name=p.png", PNG + b"!"), 409)
    dup = assert_error(_raw(alice, "POST", f"{BASE}?name=copy.png", PNG), 409)
    assert dup["existing"] == {"uuid": uuid, "version": 0}


def test_raw_upload_keeps_the_content_type_parameters(alice, ds):
    uuid = _raw(alice, "POST", f"{BASE}?name=a.txt", b"hello",
                "text/plain; charset=latin-1").get_json()["uuid"]
    assert load_object(alice, uuid)["object"]["format"] == "text/plain; charset=latin-1"


def test_empty_raw_upload_is_an_empty_object(alice, ds):
    uuid = _raw(alice, "POST", f"{BASE}?name=empty.bin", b"",
                "application/octet-stream").get_json()["uuid"]
    assert load_object(alice, uuid)["object"]["size"] == 0


def test_bytes_endpoint_streams_with_headers(alice, ds):
    uuid = _raw(alice, "POST", f"{BASE}?name=pic.png", PNG).get_json()["uuid"]
    resp = alice.get(f"{BASE}/{uuid}/0/bytes")
    assert resp.status_code == 200
    assert resp.data == PNG
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["Content-Length"] == str(len(PNG))
    assert resp.headers["ETag"] == f'"{hashlib.sha256(PNG).hexdigest()}"'  # strong
    assert resp.headers["Accept-Ranges"] == "bytes"


def test_a_mimetype_that_is_no_media_type_downloads_as_octet_stream(alice, ds):
    """A JSON create keeps whatever mimetype it is given; the download's Content-Type must
    still be a media type (RFC 9110) that the HTTP server can send: `0` went out as is, and a
    value beyond Latin-1 was a 500 under gunicorn (both found by tests/fuzz/)."""
    for index, mimetype in enumerate(["0", "text/plain; x=\u2603", "a b/c", "text/\u00e9"]):
        uuid = create_object(alice, f"bytes {index}", name=f"m{index}.txt", mimetype=mimetype)
        assert load_object(alice, uuid)["object"]["format"] == mimetype  # kept as given
        resp = alice.get(f"{BASE}/{uuid}/0/bytes")
        assert resp.status_code == 200 and resp.data == f"bytes {index}".encode()
        assert resp.headers["Content-Type"] == "application/octet-stream", mimetype
    uuid = create_object(alice, "quoted", name="q.png", mimetype='image/png; a="b c"')
    assert alice.get(f"{BASE}/{uuid}/0/bytes").headers["Content-Type"] \
        == 'image/png; a="b c"'


def test_bytes_endpoint_single_range_and_unsatisfiable_range(alice, ds):
    uuid = _raw(alice, "POST", f"{BASE}?name=pic.png", PNG).get_json()["uuid"]
    part = alice.get(f"{BASE}/{uuid}/0/bytes", headers={"x-api-key": alice.key,
                                                        "Range": "bytes=8-15"})
    assert part.status_code == 206
    assert part.data == PNG[8:16]
    assert part.headers["Content-Range"] == f"bytes 8-15/{len(PNG)}"
    tail = alice.get(f"{BASE}/{uuid}/0/bytes", headers={"x-api-key": alice.key,
                                                        "Range": "bytes=-4"})
    assert tail.status_code == 206 and tail.data == PNG[-4:]
    past = alice.get(f"{BASE}/{uuid}/0/bytes", headers={"x-api-key": alice.key,
                                                        "Range": f"bytes={len(PNG) + 10}-"})
    assert past.status_code == 416


def test_bytes_endpoint_answers_conditional_requests(alice, ds):
    uuid = _raw(alice, "POST", f"{BASE}?name=pic.png", PNG).get_json()["uuid"]
    etag = alice.get(f"{BASE}/{uuid}/0/bytes").headers["ETag"]
    again = alice.get(f"{BASE}/{uuid}/0/bytes", headers={"x-api-key": alice.key,
                                                         "If-None-Match": etag})
    assert again.status_code == 304


def test_bytes_endpoint_errors(alice, ds):
    uuid = create_object(alice, b"x")
    assert_error(alice.get(f"{BASE}/{uuid}/1/bytes"), 404)
    assert_error(alice.get(f"{BASE}/not-a-uuid/0/bytes"), 400)
    schema = create_schema(alice)["uuid"]
    assert_error(alice.get(f"{BASE}/{schema}/0/bytes"), 404)
    assert_error(alice.get(f"{BASE}/{uuid}/0/bytes", headers={}), 401)
    assert_error(alice.get(f"/datasets/nope/objects/{uuid}/0/bytes"), 404)


def test_streamed_body_over_the_limit_is_413_and_stores_nothing(app, alice, ds, installation):
    app.config["GONK_MAX_STREAM_BYTES"] = 1000
    before_events, before_blobs = events(alice), _blob_files(installation)
    body = assert_error(_raw(alice, "POST", f"{BASE}?name=big.bin", b"x" * 1001), 413)
    assert "1000" in body["error"]
    assert events(alice) == before_events
    assert _blob_files(installation) == before_blobs
    assert _raw(alice, "POST", f"{BASE}?name=ok.bin", b"x" * 1000).status_code == 200


def test_streamed_chunked_body_over_the_limit_is_413(app, alice, ds, installation):
    app.config["GONK_MAX_STREAM_BYTES"] = 1000
    before_blobs = _blob_files(installation)

    # No Content-Length, as with Transfer-Encoding: chunked: the limit is enforced while reading.
    resp = alice.flask.open(f"{BASE}?name=chunked.bin", method="POST",
                            input_stream=io.BytesIO(b"y" * 2000),
                            headers={"x-api-key": alice.key,
                                     "Content-Type": "application/octet-stream"},
                            environ_overrides={"wsgi.input_terminated": True,
                                               "HTTP_TRANSFER_ENCODING": "chunked"})
    assert_error(resp, 413)
    assert _blob_files(installation) == before_blobs


def test_json_load_above_the_json_limit_points_to_bytes(app, alice, ds):
    uuid = _raw(alice, "POST", f"{BASE}?name=pic.png", PNG).get_json()["uuid"]
    app.config["MAX_CONTENT_LENGTH"] = len(PNG) - 1
    resp = alice.get(f"{BASE}/{uuid}/0")
    assert resp.status_code == 200  # the metadata, without the bytes (tests/api/test_large_loads)
    assert resp.json["bytes"] is None
    assert resp.json["bytes_url"] == f"{BASE}/{uuid}/0/bytes"
    assert alice.get(f"{BASE}/{uuid}/0/bytes").data == PNG


def test_lookup_by_hash_finds_live_objects_only(alice, ds):
    uuid = create_object(alice, b"find me")
    digest = hashlib.sha256(b"find me").hexdigest()
    found = alice.get(f"{BASE}?hash={digest}")
    assert found.status_code == 200 and found.get_json() == [{"uuid": uuid, "version": 0}]
    reject(alice, event_of(alice, "objects", uuid, 0))
    assert alice.get(f"{BASE}?hash={digest}").get_json() == []
    assert_error(alice.get(f"{BASE}?hash=xyz"), 400)
    # the answer is not paged: after and limit are refused, not ignored
    for query in ("limit=10", "limit=x", f"after={uuid}", "name=a", "prefix="):
        assert_error(alice.get(f"{BASE}?hash={digest}&{query}"), 400)


def test_a_json_file_is_uploaded_raw_when_named_in_the_query(alice, ds):
    document = b'{"name": "not a request field", "labels": [1, 2]}'
    resp = _raw(alice, "POST", f"{BASE}?name=labels.json", document, "application/json")
    assert resp.status_code == 200
    uuid = resp.get_json()["uuid"]
    assert load_object(alice, uuid)["object"]["format"] == "application/json"
    assert alice.get(f"{BASE}/{uuid}/0/bytes").data == document
