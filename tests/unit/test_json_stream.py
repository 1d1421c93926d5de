"""Unit tests of api/json_stream.py, the scanner that reads a JSON object create or update as it
streams in and decodes its "object" member's base64 on the way.

The reference is what the whole-body reading did: json.loads of the body's bytes (anything it
refuses, or anything but an object, is refused), then the members' values, and for "object"
base64.b64decode(value, validate=True). Every body is also fed cut at every position and one
byte at a time: the answer may not depend on where the pieces of a body end."""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import random
import sys
from typing import Any

import pytest

from gonk.api.json_stream import MAX_CAPTURE, DecodedText, JSONInvalid, ObjectScanner

FIELDS = ("name", "mimetype")


def depth(value: Any) -> int:
    """How many objects and arrays are inside one another in `value`, itself included."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def reference(data: bytes, max_depth: int | None = None) -> Any:
    """What the whole-body reading made of a body: "invalid", or the members (a missing one is
    None) with "object" decoded, or the reason it was refused. With `max_depth`, a body nested
    deeper is "invalid" too (the scanner's limit)."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return "invalid"
    if not isinstance(body, dict) or (max_depth is not None and depth(body) > max_depth):
        return "invalid"
    result: dict[str, Any] = {key: body.get(key) for key in FIELDS}
    if "object" not in body:
        result["object"] = "missing"
    elif not isinstance(body["object"], str):
        result["object"] = "not a string"
    else:
        try:
            body["object"].encode("utf-8")
        except UnicodeEncodeError:
            result["object"] = "lone surrogate"
        else:
            try:
                result["object"] = base64.b64decode(body["object"], validate=True)
            except (binascii.Error, ValueError):
                result["object"] = "bad base64"
    return result


def scanned(pieces: list[bytes], **options: Any) -> Any:
    """The scanner's reading of a body given in `pieces`, in the reference's shape ("twice"
    for a repeated "object", which json.loads would have taken the last of)."""
    scanner = ObjectScanner("object", FIELDS, **options)
    out = []
    try:
        for text in DecodedText(pieces):
            out.append(scanner.feed(text))
        scanner.end()
    except JSONInvalid:
        return "invalid"
    result: dict[str, Any] = {}
    for key in FIELDS:
        captured = scanner.captured.get(key)
        result[key] = None if captured is None else captured.value()
    target = scanner.target
    result["object"] = ("missing" if not target.count else "twice" if target.count > 1
                        else "not a string" if not target.is_string
                        else "lone surrogate" if not target.unicode
                        else "bad base64" if not target.base64 else b"".join(out))
    return result


def cuttings(data: bytes) -> list[list[bytes]]:
    """The body whole, one byte at a time, and cut in two at every position."""
    return [[data], [data[i:i + 1] for i in range(len(data))],
            *([data[:i], data[i:]] for i in range(1, len(data)))]


def same(expected: Any, got: Any) -> bool:
    """Equal, NaN included (json.loads makes float("nan") of NaN)."""
    return json.dumps(expected, default=repr) == json.dumps(got, default=repr)


def assert_as_reference(data: bytes) -> Any:
    expected = reference(data)
    for pieces in cuttings(data):
        got = scanned(pieces)
        assert same(expected, got), (data, [len(p) for p in pieces], expected, got)
    return expected


VALID = [
    b'{"name": "a.txt", "mimetype": "text/plain", "object": "aGVsbG8="}',
    b'{"object":"","name":"","mimetype":""}',
    b' \t\r\n{ "object" : "QUJD" , "name" : "n" } \n',
    b'{}',
    # escapes of every kind, surrogate pairs and lone surrogates in the small members
    b'{"name": "\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\uD83D\\uDE00", "object": "QQ=="}',
    b'{"name": "\\ud800", "mimetype": "\\udc00x\\ud800\\u0041", "object": ""}',
    '{"name": "caf\u00e9 \U0001f600 \u2028", "object": "QUJD"}'.encode(),
    # the object's base64 escaped: \\/ as PHP writes it, \\u00XX for the pedantic, and "="
    b'{"object": "\\/\\/\\/\\/\\u0041\\u0042\\u0043\\u0044QUI\\u003d", "name": "n"}',
    # members in any order, nested values and every kind of scalar in other members
    b'{"x": [1, -2.5e3, 0, -0, 1E+2, 1e-2, 0.5, {"a": [true, false, null]}, "s\\n", [], {}],'
    b' "y": {"k": {"k": {"k": []}}}, "z": NaN, "w": -Infinity, "v": Infinity,'
    b' "object": "QUJD", "mimetype": "m", "name": {"nested": ["n", 1]}}',
    b'{"name": 12345678901234567890123456789, "mimetype": 1.5, "object": "QUJD"}',
    # duplicates: the last name wins, as in json.loads
    b'{"name": "first", "object": "QUJD", "name": "second", "mimetype": null}',
    # keys that are the fields escaped, and keys that only look like them
    b'{"\\u006eame": "escaped key", "objec\\u0074": "QUJD", "Name": 1, "object ": 2}',
    # the fields' refusals (the reference's reasons)
    b'{"name": "n", "mimetype": "m"}',
    b'{"name": "n", "object": null}',
    b'{"name": "n", "object": ["QUJD"]}',
    b'{"name": "n", "object": {"a": "QUJD"}}',
    b'{"name": "n", "object": 5}',
    b'{"name": "n", "object": "QUJD\\ud800"}',
    b'{"name": "n", "object": "\\ud800QUJD"}',
    b'{"name": "n", "object": "QU\\udc00JD"}',
    b'{"name": "n", "object": "QUJD\\ud83d\\ude00"}',
    b'{"name": "n", "object": "QUJD\xed\xa0\x80"}',  # a lone surrogate, raw (surrogatepass)
    b'{"name": "n", "object": "QU JD"}',
    b'{"name": "n", "object": "QUJD\\n"}',
    b'{"name": "n", "object": "QUJ"}',
    b'{"name": "n", "object": "-_-_"}',
    b'{"name": "n", "object": "QQ==QQ=="}',
    b'{"name": "n", "object": "=QUJD"}',
    b'{"name": "n", "object": "QUJD=="}',
    b'{"name": "n", "object": "QUJD======"}',
    b'{"name": "n", "object": "QQ==="}',
    b'{"name": "n", "object": "\\u00e9"}',
    # encodings json.loads told from the first bytes
    b'\xef\xbb\xbf{"name": "bom", "object": "QUJD"}',
    '{"name": "caf\u00e9 \U0001f600", "object": "QUJD"}'.encode("utf-16"),
    '{"name": "caf\u00e9", "object": "QUJD"}'.encode("utf-16-le"),
    '{"name": "caf\u00e9", "object": "QUJD"}'.encode("utf-16-be"),
    '{"name": "caf\u00e9", "object": "QUJD"}'.encode("utf-32"),
]

INVALID = [
    b"", b" ", b"{", b"}", b"[]", b'"a string"', b"42", b"null", b"true",
    b"this is not json", b'{"name": ', b'{"name": "n"', b'{"name": "n",}', b'{"name" "n"}',
    b'{name: "n"}', b"{'name': 'n'}", b'{"a": 1}}', b'{"a": 1} x', b'{"a": 1}{}',
    b'{"a": [1, 2,]}', b'{"a": [1 2]}', b'{"a": [,1]}', b'{"a": {"b"}}', b'{"a": {"b": 1,}}',
    b'{"a": 01}', b'{"a": 1.}', b'{"a": .5}', b'{"a": 1e}', b'{"a": 1e+}', b'{"a": -}',
    b'{"a": +1}', b'{"a": 0x10}', b'{"a": -NaN}', b'{"a": nan}', b'{"a": True}',
    b'{"a": nul}', b'{"a": Infinit}', b'{"a": -Infinityy}', b'{"a": undefined}',
    b'{"a": "\x01"}', b'{"a": "tab\there"}', b'{"a": "\\x41"}', b'{"a": "\\u12"}',
    b'{"a": "\\u12g4"}', b'{"a": "\\ud800\\u12g4"}', b'{"a": "\\', b'{"a": "open',
    b'{"object": "QUJD', b'{"object": "QUJD\x00"}', b'{"object": "QU\\JD"}',
    b'{"object": "QUJD"} trailing', b'{"object": "QUJD"}}', b'{"object": "\\ud800\\u"}',
    b'{"a": "\xff"}', b'\xff\xfe\x00\x01', b'{"a": "\xc3"}', b'{"a": "\xe9t\xe9"}',
    b'\xef\xbb\xbf\xef\xbb\xbf{}', b'{"a": \xef\xbb\xbf1}',
    # closing brackets that do not match the opening ones, deep inside a value
    b'{"a": [[[[[0]]]}]}', b'{"a": [{"b": [[[[0]]]}]]}', b'{"a": [[[[[0]]]]}',
    b'{"a": [[[[0]]]]]]}', b'{"a": [[[[0], [1]]], [2]]]]}', b'{"a": {"b": {"c": {"d": {}}}}}}',
    b'{"a": [[0, [1, [2, [3,]]]]]}', b'{"a": [[0, [1, [2, [3 4]]]]]}',
    b'{"a": {"b": {"c": {"d" 1}}}}',
]


@pytest.mark.parametrize("data", VALID, ids=range(len(VALID)))
def test_bodies_read_as_json_loads_read_them_wherever_they_are_cut(data):
    assert assert_as_reference(data) != "invalid"


@pytest.mark.parametrize("data", INVALID, ids=range(len(INVALID)))
def test_bodies_json_loads_refused_are_refused_wherever_they_are_cut(data):
    assert assert_as_reference(data) == "invalid"


def test_nesting_deeper_than_the_limit_is_refused():
    """json.loads refused such a body only when its recursion ran out (about 950-980 levels);
    the scanner's limit is fixed, runs of small values checked in one match included."""
    for depth, body in ((3, b'{"a": [1, [2]]}'), (4, b'{"a": [0, 1, {"b": [2, 3]}, [4]]}'),
                        (4, b'{"a": [[0, 1, [2]]]}'), (4, b'{"a": {"b": {"c": {}}}}')):
        assert scanned([body], max_depth=depth) != "invalid", body
        assert scanned([body], max_depth=depth - 1) == "invalid", body
    def nested(arrays: int) -> bytes:  # the top-level object, and arrays inside one another
        return b'{"a": ' + b"[" * arrays + b"]" * arrays + b"}"

    assert scanned([nested(511)]) != "invalid"  # MAX_DEPTH (512) levels
    assert scanned([nested(512)]) == "invalid"
    assert reference(nested(5000)) == "invalid"  # RecursionError
    assert scanned([nested(5000)]) == scanned(cuttings(nested(5000))[1]) == "invalid"


def test_integers_longer_than_json_loads_converts_are_refused():
    limit = sys.get_int_max_str_digits()
    for digits, valid in ((limit, True), (limit + 1, False)):
        for number in ("9" * digits, "-" + "9" * digits):
            body = f'{{"a": {number}, "b": [1, {number}]}}'.encode()
            assert (reference(body) != "invalid") is valid
            assert (scanned([body]) != "invalid") is valid
    for number in ("9" * (limit + 1) + ".5", "9" * (limit + 1) + "e3"):  # floats: no limit
        assert scanned([f'{{"a": {number}}}'.encode()]) != "invalid"


def _b64_strings() -> list[str]:
    short = ["".join(chars) for n in range(6) for chars in itertools.product("AQw/=!", repeat=n)]
    padded = [prefix + "=" * k for prefix in ("", "Q", "QQ", "QUI", "QUJD", "QUJDQQ")
              for k in range(9)]
    return short + padded


def test_base64_is_decoded_as_b64decode_validate_decodes_the_whole_string():
    """Every string of up to five characters from an alphabet with padding and a stranger,
    and padding runs: valid where b64decode(validate=True) took it, to the same bytes."""
    for text in _b64_strings():
        body = json.dumps({"object": text}).encode()
        expected = reference(body)["object"]
        assert scanned([body])["object"] == expected, text
        if len(text) <= 3:  # and wherever it is cut
            for pieces in cuttings(body):
                assert scanned(pieces)["object"] == expected, (text, pieces)
        escaped = body.replace(b"/", b"\\/").replace(b"A", b"\\u0041").replace(b"=", b"\\u003d")
        assert scanned([escaped])["object"] == expected, escaped


def test_the_bytes_come_out_while_the_string_is_read():
    data = bytes(range(256)) * 4096  # 1 MiB
    text = base64.b64encode(data).decode()
    body = f'{{"name": "n", "object": "{text}", "mimetype": "m"}}'
    scanner = ObjectScanner("object", FIELDS)
    out = []
    for start in range(0, len(body), 1000):  # pieces of 1000 characters, not groups of four
        out.append(scanner.feed(body[start:start + 1000]))
        if start and start + 1000 < len(text):
            assert out[-1] and scanner.decoding  # each piece gives its bytes at once
    scanner.end()
    assert b"".join(out) == data and scanner.target.closed
    assert scanner.captured["mimetype"].value() == "m"


def test_a_second_object_member_is_counted():
    scanner = ObjectScanner("object", FIELDS)
    assert scanner.feed('{"object": "QUJD", "name": "n"') == b"ABC"
    assert scanner.decoding
    scanner.feed(', "object": "QUJD"}')
    scanner.end()
    assert scanner.target.count == 2 and not scanner.decoding
    assert scanned([b'{"object": 1, "object": "QUJD"}'])["object"] == "twice"


def test_a_captured_member_past_the_limit_is_known_only_by_its_kind():
    long_name = "n" * (MAX_CAPTURE + 1)
    body = json.dumps({"name": long_name, "mimetype": ["m" * MAX_CAPTURE], "object": ""})
    scanner = ObjectScanner("object", FIELDS)
    for start in range(0, len(body), 100_000):
        scanner.feed(body[start:start + 100_000])
    scanner.end()
    name, mimetype = scanner.captured["name"], scanner.captured["mimetype"]
    assert name.text is None and name.is_string
    assert mimetype.text is None and not mimetype.is_string
    # at the limit, kept; and a later duplicate replaces a value past it
    body = json.dumps({"name": long_name, "name": "n" * (MAX_CAPTURE - 2)})  # noqa: F601
    scanner = ObjectScanner("object", FIELDS)
    scanner.feed(body)
    scanner.end()
    assert scanner.captured["name"].value() == "n" * (MAX_CAPTURE - 2)


def _large_container(rng: random.Random) -> str:
    """A member holding a large array of every kind of scalar and of small containers (the
    stretches the scanner checks with one regular expression), maybe with one mistake."""
    scalars = ['"s"', '"\\u00e9\\n"', '""', "0", "-1", "12.5e-3", "1E5", "true", "false", "null",
               "NaN", "-Infinity", "Infinity", "9" * 120, "[]", "{}", '[1, "a", null]',
               '{"k": 1, "l": [2]}', '{"k": {"l": 1}}', '[[[]]]', ' 7 ', '\n"x"\t',
               "[[[[0]]]]", '[0, [1, [2, [3, [4]]]]]', '{"a": [{"b": [{"c": [5]}]}]}',
               '[[0], [[1]], [[[2]]], [[[[3]]]], {"k": [[[[4]]]]}]', '[ [ 1 ] , [ ] ]']
    items = [rng.choice(scalars) for _ in range(rng.randint(50, 400))]
    text = '{"name": "n", "x": [' + ",".join(items) + '], "y": {' + ",".join(
        f'"k{i}": {item}' for i, item in enumerate(items)) + '}, "object": "QUJD"}'
    if rng.random() < 0.6:
        at = rng.randrange(len(text))
        mistake = rng.choice(["", ",", "]", "}", "01", "1.", '"', "\\", "\x01", "tru", ":"])
        text = text[:at] + mistake + text[at + rng.randint(0, 2):]
    return text


@pytest.mark.parametrize("max_depth", [512, 4, 5, 6])
def test_large_containers_read_as_json_loads_reads_them(max_depth):
    """Including the depth limit near the depth of the values: the runs checked by one match
    hold up to LEVELS of nesting, and must be taken only where the limit allows them."""
    rng = random.Random(7 + max_depth)
    for _ in range(150 if max_depth == 512 else 40):
        body = _large_container(rng).encode()
        cut = sorted(rng.sample(range(1, len(body)), rng.randint(1, 12)))
        pieces = [body[a:b] for a, b in zip([0, *cut], [*cut, len(body)], strict=True)]
        expected, got = reference(body, max_depth), scanned(pieces, max_depth=max_depth)
        assert same(expected, got), (body[:200], expected, got)


SEEDS = [data for data in VALID if data.startswith(b"{")]
NOISE = list(b'{}[]:,"\\ 0123456789-+.eE=/QAtfnulNaIy\n\t\x00\x1f\xc3\xa9\xff') + list(b"uUDd")


def test_mutated_bodies_read_as_json_loads_reads_them():
    rng = random.Random(11)
    for _ in range(2500):
        data = bytearray(rng.choice(SEEDS))
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, max(len(data) - 1, 0))
            if not data:
                data.append(rng.choice(NOISE))
            elif rng.random() < 0.4:
                del data[at]
            elif rng.random() < 0.7:
                data.insert(at, rng.choice(NOISE))
            else:
                data[at] = rng.choice(NOISE)
        body = bytes(data)
        cut = sorted(rng.sample(range(1, len(body)), min(max(len(body) - 1, 0),
                                                         rng.randint(0, 5))))
        pieces = [body[a:b] for a, b in zip([0, *cut], [*cut, len(body)], strict=True)]
        expected, got = reference(body), scanned(pieces)
        if got != "invalid" and got["object"] == "twice":
            continue  # a repeated "object" is the caller's to refuse
        assert same(expected, got), (body, cut, expected, got)


def test_undecodable_text_is_invalid():
    with pytest.raises(JSONInvalid):
        list(DecodedText([b'{"a": "', b"\xc3", b'"}']))
    assert "".join(DecodedText([b'{"a": "', b"\xc3", b"\xa9", b'"}'])) == '{"a": "\u00e9"}'
    assert "".join(DecodedText([b"\xff", b"\xfe", b"{\x00}\x00"])) == "{}"  # UTF-16 LE, BOM
