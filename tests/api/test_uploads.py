"""Uploads from common clients, beyond the seed: mimetypes guessed when a raw upload's
Content-Type says nothing (curl --data-binary sends application/x-www-form-urlencoded), and
multipart/form-data uploads (curl -F, browser forms), streamed, one object per file part."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from typing import Any

import pytest

from gonk.domain import content_types
from gonk.importer import guess_mimetype
from tests.support.api import (
    DS,
    assert_error,
    create_object,
    events,
    load_object,
)
from tests.support.generated import GeneratedBody

BASE = f"/datasets/{DS}/objects"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
BINARY = bytes([0, 1, 2, 0xFF, 0xFE]) * 50  # no magic, not text
BOUNDARY = "gonk-test-boundary-7d9f"


def _raw(client, method, path, data, content_type):
    return client.request(method, path, data=data, content_type=content_type)


def _stored(client, uuid: str, version: int = 0) -> tuple[dict[str, Any], bytes]:
    """The version's metadata and the bytes the server sends back for it."""
    meta = load_object(client, uuid, version)["object"]
    resp = client.get(f"{BASE}/{uuid}/{version}/bytes")
    assert resp.status_code == 200
    return meta, resp.data


def _object_events(client) -> list[dict[str, Any]]:
    return [e for e in events(client) if e["type"].startswith("Object")]


def _blob_files(installation) -> list[str]:
    blobs = installation.blobs
    return sorted([d for d, _ in blobs.all_blobs()] + [n for n, _ in blobs.temporary_uploads()])


# --- guessing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("head", "name", "expected"), [
    (PNG, "no-extension", "image/png"),
    (PNG, "misnamed.txt", "image/png"),  # the magic number wins over the name
    (JPEG, "photo", "image/jpeg"),
    (b"a,b\n1,2\n", "table.csv", "text/csv"),
    (b'{"label": "owl"}', "labels/owl.json", "application/json"),
    (b"plain words, no extension", "README", "text/plain"),
    ("naïve café".encode(), "LICENSE", "text/plain"),
    (BINARY, "blob", "application/octet-stream"),
    (b"\x00\x00\x00 text with NULs", "dump", "application/octet-stream"),
    (b"", "empty", "text/plain"),
    (b"", "empty.bin", "application/octet-stream"),
    (BINARY, "data:application,x", "application/octet-stream"),  # a name is not a URL
    ("é".encode() * 4096 + "é".encode()[:1], "cut", "text/plain"),  # cut mid-character
])
def test_guess_from_head_and_name(head, name, expected):
    assert content_types.guess(head, name) == expected


def test_import_guesses_the_same_way(tmp_path):
    for i, (data, name) in enumerate([(PNG, "pic"), (b"a,b\n", "t.csv"), (BINARY, "blob"),
                                      (b"words", "README")]):
        path = tmp_path / str(i) / name
        path.parent.mkdir()
        path.write_bytes(data)
        assert guess_mimetype(path) == content_types.guess(data[:8192], name)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded",
                                          "application/octet-stream",
                                          "application/octet-stream; charset=binary"])
@pytest.mark.parametrize(("data", "name", "expected"), [
    (PNG, "pic", "image/png"),
    (b"a,b\n1,2\n", "table.csv", "text/csv"),
    (b"just some text", "notes", "text/plain"),
    (BINARY, "blob", "application/octet-stream"),
])
def test_raw_upload_without_a_real_type_is_guessed(alice, ds, content_type, data, name,
                                                  expected):
    resp = _raw(alice, "POST", f"{BASE}?name={name}", data, content_type)
    assert resp.status_code == 200, resp.json
    meta, stored = _stored(alice, resp.json["uuid"])
    assert meta["format"] == expected
    assert stored == data and meta["hash"] == hashlib.sha256(data).hexdigest()
    created = _object_events(alice)[-1]
    assert created["type"] == "ObjectCreateEvent" and created["object"]["format"] == expected


def test_raw_upload_without_content_type_but_with_a_name_is_guessed(alice, ds):
    resp = alice.flask.open(f"{BASE}?name=pic", method="POST", data=PNG,
                            headers={"x-api-key": alice.key})
    assert resp.status_code == 200, resp.json
    assert _stored(alice, resp.json["uuid"]) == (load_object(alice, resp.json["uuid"])["object"],
                                                 PNG)
    assert load_object(alice, resp.json["uuid"])["object"]["format"] == "image/png"
    # without ?name= such a body is neither JSON nor a named upload: 415, as before
    before = events(alice)
    assert_error(alice.flask.open(BASE, method="POST", data=PNG,
                                  headers={"x-api-key": alice.key}), 415)
    assert events(alice) == before


def test_a_real_content_type_is_kept_as_given(alice, ds):
    # the client's word wins, even against the magic number
    uuid = _raw(alice, "POST", f"{BASE}?name=pic", PNG, "image/jpeg").json["uuid"]
    assert load_object(alice, uuid)["object"]["format"] == "image/jpeg"
    # and the JSON form's explicit mimetype is never guessed, whatever it says
    json_uuid = create_object(alice, b"text in JSON", "x.txt", "application/octet-stream")
    assert load_object(alice, json_uuid)["object"]["format"] == "application/octet-stream"


def test_raw_update_without_a_real_type_is_guessed(alice, ds):
    uuid = _raw(alice, "POST", f"{BASE}?name=v0.txt", b"text", "text/plain").json["uuid"]
    resp = _raw(alice, "PATCH", f"{BASE}/{uuid}?name=v1", PNG,
                "application/x-www-form-urlencoded")
    assert resp.status_code == 200 and resp.json == {"uuid": uuid, "version": 1}
    meta, stored = _stored(alice, uuid, 1)
    assert meta["format"] == "image/png" and meta["name"] == "v1" and stored == PNG
    assert _object_events(alice)[-1]["type"] == "ObjectUpdateEvent"


class _Trickle(io.RawIOBase):
    """A request body that arrives in small reads, counting what the server has read."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.position = data, step, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body by seeking
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = offset if whence == io.SEEK_SET else len(self.data) + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        piece = self.data[self.position:self.position + min(len(buffer), self.step)]
        buffer[:len(piece)] = piece
        self.position += len(piece)
        return len(piece)


def test_the_guess_reads_only_the_head_of_a_streamed_body(alice, ds, monkeypatch):
    """The guess is made on the first chunks, before the rest of the body is read: the body is
    streamed into the store, not buffered to be guessed."""
    data = PNG + bytes(range(256)) * 8192  # 2 MiB
    body = _Trickle(data, 1000)
    read_when_guessed: list[int] = []
    real_guess = content_types.guess

    def spying_guess(head: bytes, name: str) -> str:
        read_when_guessed.append(body.position)
        return real_guess(head, name)

    monkeypatch.setattr(content_types, "guess", spying_guess)
    resp = alice.flask.open(f"{BASE}?name=big", method="POST", input_stream=body,
                            headers={"x-api-key": alice.key,
                                     "Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 200, resp.json
    assert read_when_guessed and read_when_guessed[0] <= 9 * 1000
    meta, stored = _stored(alice, resp.json["uuid"])
    assert meta["format"] == "image/png"
    assert meta["size"] == len(data) and stored == data


# --- multipart/form-data --------------------------------------------------------------------------


def _part(filename: str | None, data: bytes, content_type: str | None = None,
          field: str = "file", disposition: str | None = None) -> bytes:
    if disposition is None:
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
    head = f"Content-Disposition: {disposition}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + data


def _multipart(*parts: bytes, boundary: str = BOUNDARY, preamble: bytes = b"",
               epilogue: bytes = b"") -> bytes:
    body = preamble
    for part in parts:
        body += f"--{boundary}\r\n".encode() + part + b"\r\n"
    return body + f"--{boundary}--\r\n".encode() + epilogue


def _send(client, method: str, path: str, body: bytes, boundary: str = BOUNDARY) -> Any:
    return client.request(method, path, data=body,
                          content_type=f"multipart/form-data; boundary={boundary}")


def test_curl_form_upload_creates_the_object_named_by_its_filename(alice, ds):
    """What `curl -F file=@photo.jpg` sends (built by werkzeug's test client here)."""
    resp = alice.post(BASE, data={"file": (io.BytesIO(JPEG), "photo.jpg", "image/jpeg")},
                      content_type="multipart/form-data")
    assert resp.status_code == 200, resp.json
    [created] = resp.json["objects"]
    assert set(created) == {"uuid", "version", "name"}
    assert created["version"] == 0 and created["name"] == "photo.jpg"
    meta, stored = _stored(alice, created["uuid"])
    assert meta["name"] == "photo.jpg" and meta["format"] == "image/jpeg" and stored == JPEG
    event = _object_events(alice)[-1]
    assert event["type"] == "ObjectCreateEvent" and event["object"] == meta
    assert load_object(alice, created["uuid"])["events"][0]["review"] == "PENDING"


def test_each_file_part_is_its_own_object_and_event(alice, ds, installation):
    text = "les oiseaux chantent, été comme hiver".encode()
    body = _multipart(
        _part("birds/owl.png", PNG, "image/png"),
        _part("notes.txt", text, "text/plain; charset=utf-8", field="second"),
        _part("no-type", JPEG),  # no Content-Type: guessed
        _part("mystery.csv", b"a,b\n", "application/octet-stream"),  # says nothing: guessed
        _part("raw.bin", BINARY, "application/octet-stream"),
    )
    resp = _send(alice, "POST", BASE, body)
    assert resp.status_code == 200, resp.json
    created = resp.json["objects"]
    assert [c["name"] for c in created] == ["birds/owl.png", "notes.txt", "no-type",
                                            "mystery.csv", "raw.bin"]
    expected = [(PNG, "image/png"), (text, "text/plain; charset=utf-8"), (JPEG, "image/jpeg"),
                (b"a,b\n", "text/csv"), (BINARY, "application/octet-stream")]
    for entry, (data, mimetype) in zip(created, expected, strict=True):
        assert entry["version"] == 0
        meta, stored = _stored(alice, entry["uuid"])
        assert (meta["name"], meta["format"], stored) == (entry["name"], mimetype, data)
    object_events = _object_events(alice)
    assert [e["object"]["uuid"] for e in object_events] == [c["uuid"] for c in created]
    assert all(e["type"] == "ObjectCreateEvent" for e in object_events)
    pending = alice.get(f"{BASE}/pending?limit=100").json
    assert {p["uuid"] for p in pending} == {c["uuid"] for c in created}


def test_name_in_the_query_overrides_a_single_filename(alice, ds):
    resp = _send(alice, "POST", f"{BASE}?name=renamed/owl.png",
                 _multipart(_part("IMG_0001.PNG", PNG, "image/png")))
    assert resp.status_code == 200, resp.json
    [created] = resp.json["objects"]
    assert created["name"] == "renamed/owl.png"
    assert load_object(alice, created["uuid"])["object"]["name"] == "renamed/owl.png"


def test_name_in_the_query_with_several_files_is_400_and_creates_nothing(alice, ds):
    before = events(alice)
    body = _multipart(_part("a.png", PNG, "image/png"), _part("b.jpg", JPEG, "image/jpeg"))
    assert_error(_send(alice, "POST", f"{BASE}?name=one.png", body), 400, "?name=")
    assert_error(_send(alice, "POST", f"{BASE}?name=schema-x",
                       _multipart(_part("a.png", PNG))), 400)
    assert events(alice) == before


@pytest.mark.parametrize("bad_name", ["schema-sneaky.json", "n" * 256, "tab\there"])
def test_a_filename_that_is_not_an_object_name_is_400_and_creates_nothing(alice, ds, bad_name):
    before = events(alice)
    body = _multipart(_part("fine.png", PNG, "image/png"), _part(bad_name, JPEG, "image/jpeg"),
                      _part("also-fine.txt", b"text", "text/plain"))
    body_error = assert_error(_send(alice, "POST", BASE, body), 400)
    assert "name" in body_error["error"]
    assert events(alice) == before
    assert alice.get(f"{BASE}?hash={hashlib.sha256(PNG).hexdigest()}").json == []


def test_non_file_fields_are_400_and_create_nothing(alice, ds):
    before = events(alice)
    body = _multipart(_part("a.png", PNG, "image/png"), _part(None, b"a value", field="title"))
    assert_error(_send(alice, "POST", BASE, body), 400, "'title'")
    # the same mistake as curl -F 'name=x.png' -F 'file=@x.png' makes
    resp = alice.post(BASE, data={"name": "x.png", "file": (io.BytesIO(PNG), "x.png")},
                      content_type="multipart/form-data")
    assert_error(resp, 400, "not a file")
    assert events(alice) == before


def test_an_upload_without_files_is_400(alice, ds):
    before = events(alice)
    assert_error(_send(alice, "POST", BASE, _multipart()), 400, "no file")
    # a browser's file input with no file chosen: an empty part with an empty filename
    assert_error(_send(alice, "POST", BASE, _multipart(_part("", b""))), 400, "no file")
    assert events(alice) == before


def test_an_empty_browser_file_input_is_skipped(alice, ds):
    body = _multipart(_part("", b"", "application/octet-stream", field="empty"),
                      _part("kept.png", PNG, "image/png"))
    resp = _send(alice, "POST", BASE, body)
    assert resp.status_code == 200, resp.json
    assert [c["name"] for c in resp.json["objects"]] == ["kept.png"]
    # but a part with content and no filename has no name to take
    assert_error(_send(alice, "POST", BASE, _multipart(_part("", b"content"))), 400, "filename")


def test_non_ascii_filenames(alice, ds):
    quoted = _part(None, b"first", "text/plain",
                   disposition="form-data; name=\"file\"; filename*=UTF-8''%C3%A9t%C3%A9.txt")
    raw = _part("hiver-❄.txt", b"second", "text/plain")  # browsers send UTF-8 as is
    resp = _send(alice, "POST", BASE, _multipart(quoted, raw))
    assert resp.status_code == 200, resp.json
    assert [c["name"] for c in resp.json["objects"]] == ["été.txt", "hiver-❄.txt"]


def test_duplicate_content_is_409_before_anything_is_created(alice, ds):
    before = events(alice)
    twice = _multipart(_part("a.png", PNG, "image/png"), _part("b.png", PNG, "image/png"))
    assert_error(_send(alice, "POST", BASE, twice), 409, "same bytes")
    assert events(alice) == before
    existing = create_object(alice, b"already here", "here.txt")
    before = events(alice)
    body = _multipart(_part("new.png", PNG, "image/png"), _part("copy.txt", b"already here"))
    error = assert_error(_send(alice, "POST", BASE, body), 409)
    assert error["existing"] == {"uuid": existing, "version": 0}
    assert events(alice) == before


def test_a_create_refused_after_earlier_ones_lists_them(alice, ds, monkeypatch):
    """Only a concurrent writer can make a create fail once every part was checked; the error
    then says which objects were created (they stay, each its own event)."""
    from gonk import service
    from gonk.domain.errors import Conflict

    real_create, calls = service.create_object, []

    def second_fails(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:
            raise Conflict("An object with the same bytes already exists in this dataset.")
        return real_create(*args)

    monkeypatch.setattr(service, "create_object", second_fails)
    body = _multipart(_part("a.png", PNG, "image/png"), _part("b.jpg", JPEG, "image/jpeg"),
                      _part("c.txt", b"text", "text/plain"))
    error = assert_error(_send(alice, "POST", BASE, body), 409, "b.jpg")
    [first] = error["objects"]
    assert first["name"] == "a.png"
    assert [e["object"]["uuid"] for e in _object_events(alice)] == [first["uuid"]]


def test_the_stream_limit_bounds_the_whole_multipart_body(app, alice, ds, installation):
    app.config["GONK_MAX_STREAM_BYTES"] = 1000
    before, before_blobs = events(alice), _blob_files(installation)
    body = _multipart(_part("a.bin", b"a" * 450), _part("b.bin", b"b" * 450))
    assert len(body) > 1000
    assert_error(_send(alice, "POST", BASE, body), 413, "1000")
    # the same body streamed without a Content-Length (chunked): stopped while reading
    resp = alice.flask.open(BASE, method="POST", input_stream=io.BytesIO(body),
                            headers={"x-api-key": alice.key,
                                     "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                            environ_overrides={"wsgi.input_terminated": True,
                                               "HTTP_TRANSFER_ENCODING": "chunked"})
    assert_error(resp, 413)
    assert events(alice) == before
    # no object was created; the first part's bytes, stored before the limit was reached, are
    # at most an unreferenced blob (which `gonk-api gc` removes), never a temporary upload
    left = set(_blob_files(installation)) - set(before_blobs)
    assert left <= {hashlib.sha256(b"a" * 450).hexdigest()}
    small = _multipart(_part("a.bin", b"a" * 300), _part("b.bin", b"b" * 300))
    assert len(small) <= 1000
    assert _send(alice, "POST", BASE, small).status_code == 200


def test_large_files_stream_through_intact(alice, ds):
    """Parts spanning many reads, with near-boundaries inside the data, come out byte for
    byte."""
    tricky = (b"\r\n--" + BOUNDARY[:-1].encode() + b"\r\n") * 1000
    big = (bytes(range(256)) * 4096 + tricky) * 3  # about 3 MiB
    other = tricky + b"end"
    body = _multipart(_part("big.bin", big, "application/x-big"),
                      _part("other.bin", other, "application/x-other"))
    resp = _send(alice, "POST", BASE, body)
    assert resp.status_code == 200, resp.json
    big_created, other_created = resp.json["objects"]
    assert _stored(alice, big_created["uuid"])[1] == big
    assert _stored(alice, other_created["uuid"])[1] == other


def test_preamble_and_epilogue_are_ignored(alice, ds):
    body = _multipart(_part("a.txt", b"A", "text/plain"), preamble=b"This is a preamble.\r\n",
                      epilogue=b"and an epilogue")
    resp = _send(alice, "POST", BASE, body)
    assert resp.status_code == 200, resp.json
    assert _stored(alice, resp.json["objects"][0]["uuid"])[1] == b"A"


def test_malformed_multipart_bodies_are_400_and_create_nothing(alice, ds):
    before = events(alice)
    good = _multipart(_part("a.png", PNG, "image/png"), _part("b.txt", b"text", "text/plain"))
    cases = [
        alice.request("POST", BASE, data=good, content_type="multipart/form-data"),  # no boundary
        _send(alice, "POST", BASE, good, boundary="x" * 300),
        _send(alice, "POST", BASE, good, boundary="other-boundary"),
        _send(alice, "POST", BASE, b"not multipart at all"),
        _send(alice, "POST", BASE, b""),
        _send(alice, "POST", BASE, _multipart(b"X-No-Disposition: here\r\n\r\ndata")),
        _send(alice, "POST", BASE, _multipart(b"Content-Disposition: form-data; name=\"f\"; "
                                              b"filename=\"\xff\xfe.txt\"\r\n\r\ndata")),
        _send(alice, "POST", BASE, f"--{BOUNDARY}\r\n".encode() + b"X" * 70_000),
    ]
    # cut off anywhere: never a 500, never an object
    cases += [_send(alice, "POST", BASE, good[:cut])
              for cut in (1, 20, 60, 100, 200, len(good) // 2, len(good) - 40, len(good) - 3)]
    for resp in cases:
        assert_error(resp, 400)
    assert events(alice) == before


def test_multipart_update_takes_exactly_one_file(alice, ds):
    uuid = create_object(alice, b"version zero", "v0.txt")
    resp = _send(alice, "PATCH", f"{BASE}/{uuid}", _multipart(_part("v1.png", PNG)))
    assert resp.status_code == 200, resp.json
    assert resp.json == {"uuid": uuid, "version": 1}
    meta, stored = _stored(alice, uuid, 1)
    assert (meta["name"], meta["format"], stored) == ("v1.png", "image/png", PNG)
    assert _object_events(alice)[-1]["type"] == "ObjectUpdateEvent"
    resp = _send(alice, "PATCH", f"{BASE}/{uuid}?name=v2.jpg",
                 _multipart(_part("ignored.jpg", JPEG, "image/jpeg")))
    assert resp.status_code == 200 and resp.json == {"uuid": uuid, "version": 2}
    assert load_object(alice, uuid, 2)["object"]["name"] == "v2.jpg"
    before = events(alice)
    two = _multipart(_part("a.txt", b"a", "text/plain"), _part("b.txt", b"b", "text/plain"))
    assert_error(_send(alice, "PATCH", f"{BASE}/{uuid}", two), 400, "one file")
    assert_error(_send(alice, "PATCH", f"{BASE}/{uuid}", _multipart()), 400)
    # the update's rules apply as to any update: unchanged bytes, unknown object
    assert_error(_send(alice, "PATCH", f"{BASE}/{uuid}", _multipart(_part("same", JPEG))), 409)
    unknown = "0d21d5a7-fe93-4618-a122-7ca9a2ee5116"
    assert_error(_send(alice, "PATCH", f"{BASE}/{unknown}", _multipart(_part("x", b"x"))), 404)
    assert events(alice) == before


def test_multipart_into_an_unknown_dataset_is_404(alice, ds):
    assert_error(_send(alice, "POST", "/datasets/nope/objects",
                       _multipart(_part("a.txt", b"a"))), 404)


class _Generated(GeneratedBody):
    """A body of `size` generated bytes, made as it is read (the test never holds it), hashing
    the file's bytes as they go out: raw, or as the one file part of a multipart body."""

    def __init__(self, size: int, multipart: bool) -> None:
        head = tail = b""
        if multipart:
            head = f"--{BOUNDARY}\r\n".encode() + _part("huge.bin", b"", "application/x-huge")
            tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        super().__init__(head, bytes(range(256)) * 4096, size, tail)  # 1 MiB blocks
        self.sha = hashlib.sha256()

    def on_data(self, piece: bytes) -> None:
        self.sha.update(piece)


@pytest.mark.parametrize("multipart", [True, False], ids=["multipart", "raw-guessed"])
def test_an_upload_is_never_held_in_memory(alice, ds, storage_kind, multipart):
    """A 64 MiB file goes into the store while the body is read (for a raw upload whose type is
    guessed, after peeking at its head): the upload's peak of Python allocations stays well
    below the file's size (about 5 MiB with files; the S3 store holds an 8 MiB part and the
    stream boto3 sends it from, so about 21 MiB there, retries included: see
    test_a_part_that_is_sent_again_is_not_kept_in_memory)."""
    size = 64 * 1024 * 1024
    bound = (40 if storage_kind.endswith("s3") else 16) * 1024 * 1024
    body = _Generated(size, multipart)
    content_type = (f"multipart/form-data; boundary={BOUNDARY}" if multipart
                    else "application/x-www-form-urlencoded")
    tracemalloc.start()
    try:
        resp = alice.flask.open(BASE if multipart else f"{BASE}?name=huge.bin", method="POST",
                                input_stream=body,
                                headers={"x-api-key": alice.key, "Content-Type": content_type})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert resp.status_code == 200, resp.json
    assert peak < bound, f"the upload peaked at {peak / 2**20:.0f} MiB"
    uuid = resp.json["objects"][0]["uuid"] if multipart else resp.json["uuid"]
    meta = alice.get(f"{BASE}/{uuid}/0?bytes=false").json["object"]
    assert meta["size"] == size and meta["hash"] == body.sha.hexdigest()
    assert meta["format"] == ("application/x-huge" if multipart else "application/octet-stream")
