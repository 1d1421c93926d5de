"""JSON object creates and updates read as they stream in (api/objects.py's _JsonBody, on
api/json_stream.py): every answer is the one the whole-body reading gave (request.get_json,
then the name, the mimetype and the base64, in that order), bodies of any size; a refused body
leaves no blob; a body is read to its end before any refusal; and a request holds a few pieces
of its body, never the body (issue 11, point 7).

The whole-body reading is run here, on the same bytes, as the reference (`in_memory`)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import tracemalloc
from typing import Any

import pytest

from gonk.api import parsing
from gonk.domain import validation
from gonk.domain.errors import InsufficientStorage, Invalid
from tests.support.api import DS, assert_error, events
from tests.support.generated import GeneratedBody

BASE = f"/datasets/{DS}/objects"
FILES = ["sqlite-files"]  # what is checked here does not depend on the database
BIG = bytes(range(256)) * 6144  # 1.5 MiB: past the 1 MiB that stay in memory, so streamed
BIG_B64 = base64.b64encode(BIG).decode()


def in_memory(app: Any, body: bytes) -> tuple[int, Any]:
    """How the whole-body reading answered `body`: (400, message), or (200, (name, mimetype,
    bytes))."""
    with app.test_request_context(BASE, method="POST", data=body,
                                  content_type="application/json"):
        try:
            parsed = parsing.json_body()
            name = validation.object_name(parsing.string_field(parsed, "name"))
            mimetype = validation.mimetype(parsing.string_field(parsed, "mimetype"))
            data = parsing.base64_field(parsed, "object")
        except Invalid as exc:
            return 400, exc.message
    return 200, (name, mimetype, data)


def _blob_files(installation: Any) -> list[str]:
    blobs = installation.blobs
    return sorted([d for d, _ in blobs.all_blobs()] + [n for n, _ in blobs.temporary_uploads()])


def _post(client: Any, body: bytes, path: str = BASE) -> Any:
    return client.request("POST", path, data=body, content_type="application/json")


def assert_as_in_memory(app: Any, client: Any, body: bytes) -> Any:
    """POST `body`: a 400 with the same message as the reference, or the object it made (or
    a 409 naming an object that holds the same bytes)."""
    status, expected = in_memory(app, body)
    resp = _post(client, body)
    if status == 400:
        assert_error(resp, 400)
        assert resp.json["error"] == expected, (body[:300], resp.json, expected)
        return resp
    name, mimetype, data = expected
    assert resp.status_code in (200, 409), (body[:300], resp.json)
    uuid = resp.json["uuid"] if resp.status_code == 200 else resp.json["existing"]["uuid"]
    version = resp.json["version"] if resp.status_code == 200 else resp.json["existing"]["version"]
    assert client.get(f"{BASE}/{uuid}/{version}/bytes").data == data
    if resp.status_code == 200:
        meta = client.get(f"{BASE}/{uuid}/{version}?bytes=false").json["object"]
        assert (meta["name"], meta["format"]) == (name, mimetype)
    return resp


def _object(**members: Any) -> bytes:
    return json.dumps({"name": "n.txt", "mimetype": "text/plain", "object": "QUJD",
                       **members}).encode()


SMALL = [
    _object(), _object(object=""), _object(name="caf\u00e9 \U0001f600"), _object(extra=[1, {}]),
    b'{"object": "QUJD", "mimetype": "m", "name": "n"}',
    b'{"name": "\\u006e\\ud83d\\ude00", "mimetype": "a\\/b", "object": "\\/\\/\\/\\/"}',
    b'{"name": "a", "name": "b", "mimetype": "m", "object": "QUI="}',
    b' \r\n{"name":"n","mimetype":"m","object":"QUJD","x":NaN,"y":-Infinity} \n',
    b'\xef\xbb\xbf{"name": "bom", "mimetype": "m", "object": "QQ=="}',
    '{"name": "utf16", "mimetype": "m", "object": "QUJE"}'.encode("utf-16"),
    # refusals, one at a time and several at once (the first one in the old order answers)
    b"", b"not json", b"[]", b'"s"', b'{"name": "n"', b'{"name": "n",}', b'{"a": 1} x',
    b'{"a": "\x01"}', b'{"a": 01}', b'{"a": "\\x"}', b'\xff\xfe\x00\x01', b'{"a": "\xff"}',
    b"{}", _object(name=""), _object(name=5), _object(name="schema-x"), _object(name="n" * 256),
    _object(name="a\nb"), _object(name="\ud800"), _object(mimetype="   "),
    _object(mimetype=None), _object(mimetype="m" * 256), _object(mimetype="\x7f\x00"),
    _object(object=None), _object(object=5), _object(object=[]), _object(object="QUJ"),
    _object(object="QU JD"), _object(object="QUJD\n"), _object(object="-_-_"),
    _object(object="\ud800"), _object(object="QQ==QQ=="), _object(object="=QUJD"),
    _object(object="QUJD==="), _object(object="QQ==="),
    b'{"name": "", "object": "!"}', b'{"mimetype": "", "object": "!"}',
    b'{"name": 5, "mimetype": 5, "object": 5}', b'{"name": "", "object": "QUJD"} x',
    b'{"object": "!", "name": "n", "mimetype": "m", "trailing": [1,]}',
]


@pytest.mark.parametrize("storage_kind", FILES)
def test_small_bodies_are_answered_as_the_whole_body_reading_answered(app, alice, ds):
    for body in SMALL:
        assert_as_in_memory(app, alice, body)


@pytest.mark.parametrize("storage_kind", FILES)
def test_mutated_bodies_are_answered_as_the_whole_body_reading_answered(app, alice, ds):
    rng = random.Random(5)
    seeds = [body for body in SMALL if body.startswith(b"{")]
    noise = list(b'{}[]:,"\\ 0123456789-.eE=/QAtfnul\n\x00\xc3\xa9') + list(b"uUd")
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 2)):
            at = rng.randint(0, len(data) - 1)
            if rng.random() < 0.5:
                del data[at]
            else:
                data.insert(at, rng.choice(noise))
        body = bytes(data)
        if body.count(b'"object"') > 1:
            continue  # a repeated "object" is refused: see below
        assert_as_in_memory(app, alice, body)


def _big(before: str = "", after: str = "", text: str = BIG_B64,
         members: str = '"name": "big.bin", "mimetype": "application/x-big"') -> bytes:
    return f'{{{members}{before}, "object": "{text}"{after}}}'.encode()


STREAMED_REFUSALS = [
    _big(after=", "),  # invalid JSON after the bytes
    _big(after="} trailing"),
    _big(after=', "x": [1,]'),
    _big(after=', "x": 01'),
    _big(after=', "x": "\x01"'),
    _big(after=', "name": ""'),  # a name, after the bytes, that the checks refuse
    _big(after=', "name": "schema-x"'),
    _big(after=', "mimetype": 5'),
    _big(members='"name": "n"'),  # no mimetype at all
    _big(text=BIG_B64 + "Q"),  # bad base64 at the very end
    _big(text=BIG_B64 + "QUJD="[:-1] + "!"),
    _big(text=BIG_B64[:-4] + "\\ud800"),  # a lone surrogate at the end
    _big(text=BIG_B64 + "\\u00e9", after=', "name": ""'),  # the name's refusal comes first
    _big(text=BIG_B64 + "=QUJD"),
]


@pytest.mark.parametrize("storage_kind", ["sqlite-files", "sqlite-s3"])
def test_streamed_bodies_are_answered_as_before_and_refused_ones_leave_no_blob(
        app, alice, ds, installation):
    resp = assert_as_in_memory(app, alice, _big())
    assert resp.status_code == 200
    assert assert_as_in_memory(app, alice, _big(after=', "name": "renamed.bin"')).status_code \
        == 409  # the same bytes again: the last name counted, and the rules ran
    blobs, log = _blob_files(installation), events(alice)
    for body in STREAMED_REFUSALS:
        assert in_memory(app, body)[0] == 400, body[-80:]
        assert_as_in_memory(app, alice, body)
    assert _blob_files(installation) == blobs and events(alice) == log


@pytest.mark.parametrize("storage_kind", FILES)
def test_an_update_is_read_the_same_way(app, alice, ds, installation):
    uuid = _post(alice, _object()).json["uuid"]
    blobs = _blob_files(installation)
    for body in (_big(after=', "name": ""'), _big(after=", ")):
        status, expected = in_memory(app, body)
        assert status == 400
        assert assert_error(alice.request("PATCH", f"{BASE}/{uuid}", data=body,
                                          content_type="application/json"),
                            400)["error"] == expected
    assert _blob_files(installation) == blobs
    resp = alice.request("PATCH", f"{BASE}/{uuid}", data=_big(), content_type="application/json")
    assert resp.json == {"uuid": uuid, "version": 1}
    assert alice.get(f"{BASE}/{uuid}/1/bytes").data == BIG


@pytest.mark.parametrize("storage_kind", FILES)
def test_a_second_object_member_is_refused(alice, ds, installation):
    """json.loads took the last one; read as it streams, the first has gone to the store
    already, so a body with two is refused (and stores nothing)."""
    blobs = _blob_files(installation)
    for body in (b'{"name": "n", "mimetype": "m", "object": "QUJD", "object": "QUJE"}',
                 b'{"name": "n", "mimetype": "m", "object": 5, "object": "QUJE"}',
                 _big(after=', "object": "QUJD"')):
        assert_error(_post(alice, body), 400, "'object' appears more than once")
    assert _blob_files(installation) == blobs


@pytest.mark.parametrize("storage_kind", FILES)
def test_a_name_too_long_to_keep_is_refused_as_too_long(alice, ds):
    """A name or mimetype of more than json_stream.MAX_CAPTURE characters of JSON is not kept,
    and the body is refused: it holds more than objects.MAX_OUTSIDE_OBJECT characters besides
    the object's base64 (the whole-body reading checked some things before the length, such as
    lone surrogates, that are then not looked at)."""
    body = _object(name="n" * (1024 * 1024 + 1))
    assert_error(_post(alice, body), 400, "besides the 'object' base64")
    body = _object(mimetype=["m" * (1024 * 1024)])
    assert_error(_post(alice, body), 400, "besides the 'object' base64")
    assert events(alice)[-1]["type"] == "OwnerAddEvent"  # nothing created


@pytest.mark.parametrize("storage_kind", FILES)
def test_a_body_is_refused_for_itself_before_an_unknown_dataset_is(app, alice, ds):
    for body in (_object(name=""), b"{", _big(after=", "), _big(after=', "name": ""')):
        status, expected = in_memory(app, body)
        assert status == 400
        resp = _post(alice, body, "/datasets/nope/objects")
        assert assert_error(resp, 400)["error"] == expected
    for body in (_object(), _big()):
        assert_error(_post(alice, body, "/datasets/nope/objects"), 404, "nope")


@pytest.mark.parametrize("storage_kind", FILES)
def test_a_store_failing_midway_answers_after_the_body_is_read(app, alice, ds, installation,
                                                              monkeypatch):
    """The blob store gives up during the stream (here: its disk fills after the first
    chunk): a body with a refusal of its own further on is refused for that, as when the body
    was read before anything was stored; a valid one gets the store's answer."""
    put_stream = installation.blobs.put_stream

    def full_after_one_chunk(chunks: Any, max_bytes: Any = None) -> Any:
        def first_only() -> Any:
            for chunk in chunks:
                yield chunk
                raise InsufficientStorage("blob store")
        return put_stream(first_only(), max_bytes)

    monkeypatch.setattr(installation.blobs, "put_stream", full_after_one_chunk)
    blobs = _blob_files(installation)
    for body in (_big(after=', "name": ""'), _big(after=", ")):
        assert assert_error(_post(alice, body), 400)["error"] == in_memory(app, body)[1]
    assert_error(_post(alice, _big()), 507)
    assert _blob_files(installation) == blobs


@pytest.mark.parametrize("storage_kind", FILES)
def test_a_chunked_body_past_the_limit_is_413_whatever_its_start(app, alice, ds, installation):
    """The body is read to its end before any refusal, as request.get_json read it: past
    MAX_CONTENT_LENGTH, 413 (pointing to the raw upload), even when its first bytes are not
    JSON; within the limit, the refusal of its content."""
    app.config["MAX_CONTENT_LENGTH"] = 1000
    for start, status in ((b"{oops", 413), (b'{"name": "n", "object": "QUJD', 413),
                          (b"{oops", 400)):
        data = start + b" " * (1500 if status == 413 else 500)
        resp = alice.flask.open(BASE, method="POST", input_stream=io.BytesIO(data),
                                headers={"x-api-key": alice.key,
                                         "Content-Type": "application/json"},
                                environ_overrides={"wsgi.input_terminated": True,
                                                   "HTTP_TRANSFER_ENCODING": "chunked"})
        body = assert_error(resp, status)
        assert ("?name=" in body["error"]) is (status == 413)


class _GeneratedJson(GeneratedBody):
    """An object create's JSON body whose "object" is `blocks` times the base64 of BIG, made
    as it is read (the test never holds it), with the sha256 of the bytes it stands for."""

    def __init__(self, blocks: int) -> None:
        block = BIG_B64.encode()
        super().__init__(b'{"name": "huge.bin", "mimetype": "application/x-huge", "object": "',
                         block, blocks * len(block), b'"}')
        digest = hashlib.sha256()
        for _ in range(blocks):
            digest.update(BIG)
        self.sha = digest.hexdigest()


@pytest.mark.parametrize("storage_kind", ["sqlite-files", "sqlite-s3"])
def test_a_json_body_is_never_held_in_memory(alice, ds, storage_kind):
    """A 32 MiB JSON body (24 MiB of bytes) goes into the store as it is read: the request's
    peak of Python allocations stays far below the body's size (about 4 MiB with files; the
    S3 store holds an 8 MiB part, which boto3 copies). Read whole, it took 3.75 times the
    body (120 MiB)."""
    body = _GeneratedJson(16)
    assert 32 * 2**20 - 100 < body.length < 32 * 2**20 + 100
    bound = (40 if storage_kind.endswith("s3") else 12) * 2**20
    tracemalloc.start()
    try:
        resp = alice.flask.open(BASE, method="POST", input_stream=body,
                                headers={"x-api-key": alice.key,
                                         "Content-Type": "application/json",
                                         "Content-Length": str(body.length)})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert resp.status_code == 200, resp.json
    assert peak < bound, f"the create peaked at {peak / 2**20:.1f} MiB"
    meta = alice.get(f"{BASE}/{resp.json['uuid']}/0?bytes=false").json["object"]
    assert meta["size"] == 16 * len(BIG) and meta["hash"] == body.sha
    assert (meta["name"], meta["format"]) == ("huge.bin", "application/x-huge")


@pytest.mark.parametrize("storage_kind", ["sqlite-files"], indirect=True)
def test_large_members_besides_the_object_are_refused(alice, ds):
    """Checking JSON other than the object's base64 costs far more per character: beyond 1 MiB
    of it the body is refused (400) and nothing is created."""
    before = alice.get(f"/datasets/{ds}/objects").json
    nested = "[" * 200 + "]" * 200
    body = ('{"name": "a.txt", "mimetype": "text/plain", "padding": ['
            + ",".join([nested] * 3000) + '], "object": "' + "QUJD" * 1000 + '"}')
    resp = _post(alice, body.encode())
    assert resp.status_code == 400, resp.json
    assert "besides the 'object' base64" in resp.json["error"]
    assert alice.get(f"/datasets/{ds}/objects").json == before
    small = '{"name": "b.txt", "mimetype": "text/plain", "padding": [' + nested + \
        '], "object": "' + "QUJD" * 400_000 + '"}'
    resp = _post(alice, small.encode())
    assert resp.status_code == 200, resp.json
