"""Malformed input thrown at every endpoint: each request gets a 4xx with a JSON {"error": str}
body free of Python internals, and leaves the dataset's event log (and the list of datasets)
exactly as it was."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.api import (
    DS,
    accept,
    create_annotation,
    create_object,
    create_schema,
    event_of,
    events,
)
from tests.support.http import LABEL_SCHEMA, b64

D = f"/datasets/{DS}"
HUGE = "x" * 10_000
GOOD_B64 = b64(b"some bytes")
UNKNOWN = "0d21d5a7-fe93-4618-a122-7ca9a2ee5116"
INTERNALS = ("Traceback", 'File "', "sqlalchemy", "sqlite3", "werkzeug", "KeyError",
             "TypeError", "AttributeError", "ValueError", "OverflowError", "RecursionError",
             "UnicodeEncodeError", "binascii")


@dataclass(frozen=True)
class Raw:
    """A body sent as is, with this content type (None: no Content-Type header)."""

    data: str | bytes
    content_type: str | None = "application/json"


@dataclass(frozen=True)
class Key:
    """No body; this x-api-key header instead of alice's (None: no header at all)."""

    key: str | None


def _object(**over: Any) -> dict[str, Any]:
    return {"name": "new.txt", "mimetype": "text/plain", "object": b64(b"new bytes"), **over}


def _schema(**over: Any) -> dict[str, Any]:
    return {"name": "schema-new", "schema": b64(LABEL_SCHEMA), **over}


def _annotation(**over: Any) -> dict[str, Any]:
    return {"schema": {"name": "schema-label", "version": 0},
            "object_identifiers": [{"uuid": "{obj}", "version": 0}],
            "annotation": b64({"label": "new"}), **over}


def _annotation_update(**over: Any) -> dict[str, Any]:
    return {"schema": {"name": "schema-label", "version": 0},
            "annotation": b64({"label": "new"}), **over}


def _body_cases(method: str, path: str, good: Any, fields: dict[str, list[Any]]) -> list[Any]:
    """For one JSON endpoint: the generic body mistakes, and each field replaced by each bad
    value, and each field missing."""
    cases = [
        (method, path, Raw("this is not json")),
        (method, path, Raw("")),
        (method, path, Raw("{\"name\": ")),
        (method, path, Raw(b"\xff\xfe\x00\x01")),
        (method, path, Raw("[" * 100_000 + "]" * 100_000)),
        (method, path, Raw("{\"a\":" * 50_000 + "1" + "}" * 50_000)),
        (method, path, []),
        (method, path, [good]),
        (method, path, "a string"),
        (method, path, 42),
        (method, path, None if method == "PATCH" else {}),
        (method, path, Raw(json.dumps(good), "text/plain")),
        (method, path, Raw(json.dumps(good), "application/x-www-form-urlencoded")),
        (method, path, Raw(json.dumps(good), None)),
        (method, path, Raw(json.dumps(good), "application/jsonx")),
    ]
    if method == "PATCH":
        cases[10] = (method, path, {})
    for field, bad_values in fields.items():
        missing = {k: v for k, v in good.items() if k != field}
        cases.append((method, path, missing))
        for bad in bad_values:
            cases.append((method, path, {**good, field: bad}))
    return cases


STRING = [None, 5, 1.5, True, [], {}, "", HUGE, "\ud800"]
BASE64 = [None, 5, [], {}, "not base64!", "abc", "YWJj\n", "-_-_", "YW=Jj", HUGE + "!", "\ud800"]
SCHEMA_REF = [None, "schema-label", 0, [], {}, {"name": "schema-label"}, {"version": 0},
              {"name": 5, "version": 0}, {"name": "label", "version": 0},
              {"name": "schema-label", "version": -1}, {"name": "schema-label", "version": "a"},
              {"name": "schema-label", "version": 0.5}, {"name": "schema-label", "version": None},
              {"name": "schema-label", "version": 10**30},
              {"name": "schema-label", "version": 2**63},
              {"name": HUGE, "version": 0}, {"name": "schema-\ud800", "version": 0},
              {"name": "schema-label", "version": 99}, {"name": "schema-nope", "version": 0}]
IDENTIFIERS = [None, [], {}, "x", [None], [5], [[]], [{}], [{"uuid": "{obj}"}],
               [{"version": 0}], [{"uuid": "bad", "version": 0}],
               [{"uuid": HUGE, "version": 0}], [{"uuid": 5, "version": 0}],
               [{"uuid": "{obj}", "version": -1}], [{"uuid": "{obj}", "version": "0"}],
               [{"uuid": "{obj}", "version": 10**30}], [{"uuid": "{obj}", "version": 9}],
               [{"uuid": UNKNOWN, "version": 0}], [{"uuid": "{schema}", "version": 0}],
               [{"uuid": "{obj}", "version": 0}, {"uuid": "{obj}", "version": 0}],
               [{"uuid": "{ann}", "version": 0}]]

CASES: list[Any] = [
    # --- datasets
    *_body_cases("POST", "/datasets", {"name": "fresh"},
                 {"name": [*STRING, "..", "-x", "a b", "a/b", "x" * 129, "ds"]}),
    # --- schemas
    *_body_cases("POST", f"{D}/schemas", _schema(),
                 {"name": [*STRING, "label", "schema-", "schema-label", "schema-�",
                           "schema-" + HUGE],
                  "schema": [*BASE64, b64(b"{"), b64({"type": 5}), b64(b"\xff"), b64(b"")]}),
    *_body_cases("PATCH", f"{D}/schemas/schema-label", {"schema": b64({"type": "string"})},
                 {"schema": [*BASE64, b64(b"{"), b64({"type": 5}), b64(LABEL_SCHEMA)]}),
    ("PATCH", f"{D}/schemas/schema-nope", {"schema": b64({"type": "string"})}),
    ("PATCH", f"{D}/schemas/{HUGE}", {"schema": b64({"type": "string"})}),
    ("PATCH", f"{D}/schemas/schema-{HUGE}", {"schema": b64({"type": "string"})}),
    ("GET", f"{D}/schemas/{HUGE}", None),
    ("GET", f"{D}/schemas/schema-{HUGE}", None),
    ("GET", f"{D}/schemas/deleted", None),
    ("GET", f"{D}/schemas/schema-label/x", None),
    ("GET", f"{D}/schemas/schema-label/-1", None),
    ("GET", f"{D}/schemas/schema-label/{'9' * 40}", None),
    ("GET", f"{D}/schemas/schema-label/7", None),
    ("GET", f"{D}/schemas/label/0", None),
    ("GET", f"{D}/schemas/schema-label/0?bytes=maybe", None),
    ("GET", f"{D}/schemas/schema-label/x/bytes", None),
    ("GET", f"{D}/schemas/schema-label/7/bytes", None),
    ("GET", f"{D}/schemas/schema-nope/0/bytes", None),
    ("GET", f"{D}/schemas/label/0/bytes", None),
    ("DELETE", f"{D}/schemas/schema-label/x", None),
    ("DELETE", f"{D}/schemas/schema-label/{'9' * 40}", None),
    ("DELETE", f"{D}/schemas/schema-label/7", None),
    ("DELETE", f"{D}/schemas/schema-nope/0", None),
    ("DELETE", f"{D}/schemas/{HUGE}/0", None),
    # --- users (alice is the instance admin, as `init` makes the first user)
    *_body_cases("POST", "/users", {"name": "fresh-user"},
                 {"name": [*STRING, "a b", "a/b", "x" * 65, "alice", "bob"]}),
    ("POST", "/users", {"name": "fresh-user", "admin": "yes"}),
    ("POST", "/users", {"name": "fresh-user", "admin": 1}),
    ("POST", "/users", {"name": "fresh-user", "admin": None}),
    ("POST", "/users/nobody/key", None),
    ("POST", f"/users/{HUGE}/key", None),
    ("POST", "/users/a%20b/key", None),
    ("DELETE", "/users/nobody", None),
    ("DELETE", "/users/alice", None),
    ("DELETE", f"/users/{HUGE}", None),
    ("DELETE", "/users/%C3%BC", None),
    # --- settings and members
    ("GET", "/datasets/nope", None),
    *_body_cases("PATCH", D, {"visibility": "private"},
                 {"visibility": [5, 1.5, True, [], {}, "", HUGE, "\ud800", "public"]}),
    ("PATCH", D, {"visibility": "private", "require_other_reviewer": "yes"}),
    ("PATCH", D, {"require_other_reviewer": 1}),
    ("PATCH", D, {"visibility": "private", "colour": "red"}),
    ("PATCH", D, {"visibility": "internal"}),  # what it already is: 409
    ("PUT", f"{D}/members/nobody", {"role": "viewer"}),
    ("PUT", f"{D}/members/alice", {"role": "viewer"}),  # an owner
    ("PUT", f"{D}/members/{HUGE}", {"role": "viewer"}),
    ("PUT", f"{D}/members/bob", None),
    *[("PUT", f"{D}/members/bob", {"role": role})
      for role in (None, 5, "", "owner", "Viewer", [], HUGE)],
    ("DELETE", f"{D}/members/bob", None),
    ("DELETE", f"{D}/members/{HUGE}", None),
    # --- the work queue
    *_body_cases("POST", f"{D}/queue/claim", {"task": "annotate", "schema": "schema-label"},
                 {"task": [*STRING, "paint"], "schema": [5, [], "label", HUGE, "schema-nope"]}),
    ("POST", f"{D}/queue/claim", {"task": "annotate", "schema": "schema-label", "ttl": 0}),
    ("POST", f"{D}/queue/claim", {"task": "annotate", "schema": "schema-label", "ttl": 3601}),
    ("POST", f"{D}/queue/claim", {"task": "annotate", "schema": "schema-label", "ttl": "x"}),
    ("POST", f"{D}/queue/claim", {"task": "annotate", "schema": "schema-label", "ttl": True}),
    ("PUT", f"{D}/queue/leases/not-a-uuid", None),
    ("PUT", f"{D}/queue/leases/{{obj}}", None),  # no such lease
    ("PUT", f"{D}/queue/leases/{{obj}}", {"ttl": -1}),
    ("DELETE", f"{D}/queue/leases/{{obj}}", None),
    ("DELETE", f"{D}/queue/leases/{HUGE}", None),
    ("GET", f"{D}/queue?schema=label", None),
    ("GET", f"{D}/queue?schema=schema-nope", None),
    *[("PUT", f"{D}/objects/{{obj}}/priority", {"priority": bad})
      for bad in (None, "1", True, [], {}, 1e300)],
    ("PUT", f"{D}/objects/{{obj}}/priority", None),
    ("PUT", f"{D}/objects/not-a-uuid/priority", {"priority": 1}),
    ("PUT", f"{D}/objects/{{ann}}/priority", {"priority": 1}),  # an annotation, not an object
    *[("PUT", f"{D}/objects/{{obj}}/assignee", body)
      for body in ({}, {"user": 5}, {"user": "a b"}, {"user": "nobody"}, {"user": HUGE})],
    # --- owners
    ("PUT", f"{D}/owners/nobody", None),
    ("PUT", f"{D}/owners/{HUGE}", None),
    ("PUT", f"{D}/owners/a%20b", None),
    ("PUT", f"{D}/owners/alice", None),
    ("DELETE", f"{D}/owners/alice", None),
    ("DELETE", f"{D}/owners/bob", None),
    ("DELETE", f"{D}/owners/{HUGE}", None),
    ("DELETE", f"{D}/owners/%C3%BC", None),
    # --- objects
    *_body_cases("POST", f"{D}/objects", _object(),
                 {"name": [*STRING, "schema-x", "n" * 256],
                  "mimetype": [*STRING, "   ", "m" * 256],
                  "object": [*BASE64, b64(b"original bytes")]}),
    *_body_cases("PATCH", f"{D}/objects/{{obj}}", _object(),
                 {"name": [*STRING, "schema-x"], "mimetype": STRING,
                  "object": [*BASE64, b64(b"original bytes")]}),
    ("PATCH", f"{D}/objects/{UNKNOWN}", _object()),
    ("PATCH", f"{D}/objects/{{schema}}", _object()),
    ("PATCH", f"{D}/objects/{{ann}}", _object()),
    ("PATCH", f"{D}/objects/{HUGE}", _object()),
    ("GET", f"{D}/objects/{UNKNOWN}", None),
    ("GET", f"{D}/objects/{HUGE}", None),
    ("GET", f"{D}/objects/deprecated", None),
    ("GET", f"{D}/objects?after=nope", None),
    ("GET", f"{D}/objects?after={HUGE}", None),
    ("GET", f"{D}/objects?after={UNKNOWN}", None),
    ("GET", f"{D}/objects?after={{ann}}", None),
    ("GET", f"{D}/objects?limit=0", None),
    ("GET", f"{D}/objects?limit={HUGE}", None),
    ("GET", f"{D}/objects?limit=-5", None),
    ("GET", f"{D}/objects/pending?after=zzz", None),
    ("GET", f"{D}/objects/pending?after={UNKNOWN}", None),
    ("GET", f"{D}/objects/pending?limit=1001", None),
    ("GET", f"{D}/objects/{{obj}}/x", None),
    ("GET", f"{D}/objects/{{obj}}/7", None),
    ("GET", f"{D}/objects/{{obj}}/{'9' * 40}", None),
    ("GET", f"{D}/objects/nope/0", None),
    ("GET", f"{D}/objects/{HUGE}/0", None),
    ("DELETE", f"{D}/objects/{{obj}}/x", None),
    ("DELETE", f"{D}/objects/{{obj}}/7", None),
    ("DELETE", f"{D}/objects/{UNKNOWN}/0", None),
    ("DELETE", f"{D}/objects/nope/0", None),
    ("DELETE", f"{D}/objects/{{obj}}/{'9' * 40}", None),
    ("GET", f"{D}/objects/{{obj}}/x/bytes", None),
    ("GET", f"{D}/objects/{{obj}}/7/bytes", None),
    ("GET", f"{D}/objects/{UNKNOWN}/0/bytes", None),
    ("GET", f"{D}/objects/nope/0/bytes", None),
    ("GET", f"{D}/objects/{{schema}}/0/bytes", None),
    ("GET", f"{D}/objects/{{ann}}/0/bytes", None),
    ("GET", f"{D}/objects/{{obj}}/0?bytes=maybe", None),
    ("GET", f"{D}/objects/{{obj}}/0/bytes?download=maybe", None),
    # --- thumbnails: a bad size, an unknown version, a text object (415)
    ("GET", f"{D}/objects/{{obj}}/0/thumbnail?size=0", None),
    ("GET", f"{D}/objects/{{obj}}/0/thumbnail?size=abc", None),
    ("GET", f"{D}/objects/{{obj}}/0/thumbnail?size=4096", None),
    ("GET", f"{D}/objects/{{obj}}/7/thumbnail", None),
    ("GET", f"{D}/objects/{UNKNOWN}/0/thumbnail", None),
    ("GET", f"{D}/objects/nope/0/thumbnail", None),
    ("GET", f"{D}/objects/{{ann}}/0/thumbnail", None),
    ("GET", f"{D}/objects/{{obj}}/0/thumbnail", None),
    ("GET", f"{D}/objects/{{obj}}/0/thumbnail?as_of={{owner_event}}", None),
    ("POST", f"{D}/objects", Raw(b"not multipart", "multipart/form-data; boundary=b")),
    ("POST", f"{D}/objects", Raw(b"no boundary", "multipart/form-data")),
    ("POST", f"{D}/objects", Raw(b'--b\r\nContent-Disposition: form-data; name="f"; '
                                 b'filename="schema-x"\r\n\r\nbytes\r\n--b--\r\n',
                                 "multipart/form-data; boundary=b")),
    ("PATCH", f"{D}/objects/{{obj}}", Raw(b"not multipart", "multipart/form-data; boundary=b")),
    ("GET", f"{D}/objects?hash=nothex", None),
    ("GET", f"{D}/objects?hash={'A' * 64}", None),
    ("POST", f"{D}/objects", Raw(b"raw bytes without a name", "image/png")),
    ("POST", f"{D}/objects?name=", Raw(b"raw bytes, empty name", "image/png")),
    ("POST", f"{D}/objects?name=schema-x", Raw(b"raw bytes, schema name", "image/png")),
    ("POST", "/datasets/nope/objects?name=a.png", Raw(b"raw bytes, unknown dataset", "image/png")),
    ("PATCH", f"{D}/objects/{UNKNOWN}?name=a.png", Raw(b"raw bytes, unknown object", "image/png")),
    # --- annotations
    *_body_cases("POST", f"{D}/annotations", _annotation(),
                 {"schema": SCHEMA_REF, "object_identifiers": IDENTIFIERS,
                  "annotation": [*BASE64, b64(b"{"), b64({"label": 5}), b64(b"\xff"), b64(b"")]}),
    *_body_cases("PATCH", f"{D}/annotations/{{ann}}", _annotation_update(),
                 {"schema": SCHEMA_REF,
                  "annotation": [*BASE64, b64({"label": 5}), b64({"label": "bird"})]}),
    ("PATCH", f"{D}/annotations/{UNKNOWN}", _annotation_update()),
    ("PATCH", f"{D}/annotations/{{obj}}", _annotation_update()),
    ("PATCH", f"{D}/annotations/{HUGE}", _annotation_update()),
    ("GET", f"{D}/annotations/{UNKNOWN}", None),
    ("GET", f"{D}/annotations/{HUGE}", None),
    ("GET", f"{D}/annotations/deprecated", None),
    ("GET", f"{D}/annotations?after=nope", None),
    ("GET", f"{D}/annotations?after={{obj}}", None),
    ("GET", f"{D}/annotations?limit=abc", None),
    ("GET", f"{D}/annotations/rejected?after={UNKNOWN}", None),
    ("GET", f"{D}/annotations/{{ann}}/x", None),
    ("GET", f"{D}/annotations/{{ann}}/7", None),
    ("GET", f"{D}/annotations/{{obj}}/0", None),
    ("GET", f"{D}/annotations/{{ann}}/0?bytes=maybe", None),
    ("GET", f"{D}/annotations/{{ann}}/x/bytes", None),
    ("GET", f"{D}/annotations/{{ann}}/7/bytes", None),
    ("GET", f"{D}/annotations/{{obj}}/0/bytes", None),
    ("DELETE", f"{D}/annotations/{{ann}}/x", None),
    ("DELETE", f"{D}/annotations/{{ann}}/7", None),
    ("DELETE", f"{D}/annotations/{{obj}}/0", None),
    ("DELETE", f"{D}/annotations/bad/0", None),
    # --- events
    ("GET", f"{D}/events?after=nope", None),
    ("GET", f"{D}/events?after={UNKNOWN}", None),
    ("GET", f"{D}/events?after={{obj}}", None),
    ("GET", f"{D}/events?limit=0", None),
    ("GET", f"{D}/events?limit=1001", None),
    ("GET", f"{D}/events?limit=", None),
    ("PUT", f"{D}/events/nope/accept", None),
    ("PUT", f"{D}/events/{HUGE}/reject", None),
    ("PUT", f"{D}/events/{UNKNOWN}/accept", None),
    ("PUT", f"{D}/events/{{obj}}/accept", None),
    ("PUT", f"{D}/events/{{owner_event}}/accept", None),
    ("PUT", f"{D}/events/{{owner_event}}/reject", None),
    ("PUT", f"{D}/events/{{review_event}}/accept", None),
    ("PUT", f"{D}/events/{{reviewed_event}}/reject", None),
    ("PUT", f"{D}/events/{{reviewed_event}}/accept", None),
    # --- as_of on the reads: neither an event uuid nor a release name (400), an unknown point
    # (404), and what did not exist yet at the point (404)
    ("GET", f"{D}/objects?as_of=.x", None),
    ("GET", f"{D}/objects?as_of={UNKNOWN}", None),
    ("GET", f"{D}/objects?as_of={{owner_event}}&after={{obj}}", None),
    ("GET", f"{D}/objects/{{obj}}/0/bytes?as_of={{owner_event}}", None),
    ("GET", f"{D}/schemas/schema-label?as_of={{owner_event}}", None),
    ("GET", f"{D}/annotations/{{ann}}/0?as_of=.x", None),
    ("GET", f"{D}/events?as_of={{owner_event}}&after={{obj_event}}", None),
    # --- releases
    *_body_cases("POST", f"{D}/releases", {"name": "r1"}, {"name": [*STRING, UNKNOWN]}),
    *(("POST", f"{D}/releases", {"name": "r1", "at": bad}) for bad in (5, "nope", UNKNOWN)),
    ("POST", f"{D}/releases", {"name": "r1", "description": "x" * 10_001}),
    ("GET", f"{D}/releases?after=nope", None),
    ("GET", f"{D}/releases/nope", None),
    ("GET", f"{D}/releases/{UNKNOWN}", None),
    ("GET", f"{D}/releases/nope/manifest", None),
    ("DELETE", f"{D}/releases/nope", None),
    # --- diffs
    ("GET", f"{D}/diff?from=.x", None),
    ("GET", f"{D}/diff?to={UNKNOWN}", None),
    ("GET", f"{D}/diff?after={{obj_event}}", None),
    ("GET", f"{D}/diff?limit=0", None),
    # --- label exports
    ("GET", f"{D}/releases/nope/export?format=coco", None),
    ("GET", f"{D}/releases/nope/export", None),
    ("GET", f"{D}/releases/.x/export?format=coco", None),
    ("GET", f"{D}/export?format=coco", None),
    ("GET", f"{D}/export?as_of=.x&format=coco", None),
    ("GET", f"{D}/export?as_of={UNKNOWN}&format=csv", None),
    ("GET", f"{D}/export?as_of={UNKNOWN}&format=zip", None),
    ("GET", f"{D}/export?as_of={UNKNOWN}&format=coco&files=maybe", None),
    ("POST", f"{D}/export", {}),
    # --- statistics
    ("GET", f"{D}/stats?as_of=.x", None),
    ("GET", f"{D}/stats?as_of=", None),
    ("GET", f"{D}/stats?as_of={UNKNOWN}", None),
    ("GET", f"{D}/stats?as_of=no-such-release", None),
    ("POST", f"{D}/stats", {}),
    # --- the verifiable log: tree sizes are 1 to the number of events
    ("POST", f"{D}/checkpoint", {}),
    ("GET", f"{D}/proofs/inclusion", None),
    ("GET", f"{D}/proofs/inclusion?event=x", None),
    ("GET", f"{D}/proofs/inclusion?event={UNKNOWN}", None),
    *[("GET", f"{D}/proofs/inclusion?event={{obj_event}}&size={size}", None)
      for size in ("0", "-1", "x", "1.5", "", "99999", str(10**30), "\u0661", "1")],
    ("GET", f"{D}/proofs/consistency", None),
    *[("GET", f"{D}/proofs/consistency?{query}", None)
      for query in ("from=0", "from=x", "from=", "from=99999", "from=1&to=0", "from=3&to=2",
                    "from=1&to=99999", f"from={10**30}", "to=2")],
    ("POST", f"{D}/proofs/consistency?from=1", {}),
]

# Missing and unknown keys, on every kind of route (including GET /datasets).
for _method, _path in (("GET", "/datasets"), ("POST", "/datasets"), ("GET", f"{D}/owners"),
                       ("PUT", f"{D}/owners/bob"), ("POST", f"{D}/objects"),
                       ("DELETE", f"{D}/objects/{{obj}}/0"),
                       ("PUT", f"{D}/events/{{obj_event}}/accept"),
                       ("PATCH", f"{D}/schemas/schema-label"),
                       ("DELETE", f"{D}/annotations/{{ann}}/0"), ("POST", f"{D}/releases"),
                       ("GET", f"{D}/stats"), ("GET", "/me"), ("GET", "/users"),
                       ("POST", "/users"), ("DELETE", "/users/bob"), ("GET", D),
                       ("GET", f"{D}/members"), ("PUT", f"{D}/members/bob"),
                       ("GET", f"{D}/checkpoint"),
                       ("GET", f"{D}/proofs/inclusion?event={{obj_event}}"),
                       ("GET", f"{D}/proofs/consistency?from=1")):
    CASES += [(_method, _path, Key(None)), (_method, _path, Key("")),
              (_method, _path, Key("wrong-key")), (_method, _path, Key(HUGE))]

# Every endpoint under an unknown dataset and under invalid dataset names.
for _ds in ("nope", "..", "-x", HUGE, "a%20b"):
    CASES += [
        ("GET", f"/datasets/{_ds}/owners", None),
        ("PUT", f"/datasets/{_ds}/owners/bob", None),
        ("DELETE", f"/datasets/{_ds}/owners/alice", None),
        ("GET", f"/datasets/{_ds}/events", None),
        ("PUT", f"/datasets/{_ds}/events/{UNKNOWN}/accept", None),
        ("PUT", f"/datasets/{_ds}/events/{UNKNOWN}/reject", None),
        ("POST", f"/datasets/{_ds}/schemas", _schema()),
        ("GET", f"/datasets/{_ds}/schemas", None),
        ("GET", f"/datasets/{_ds}/schemas/schema-label", None),
        ("GET", f"/datasets/{_ds}/schemas/accepted", None),
        ("PATCH", f"/datasets/{_ds}/schemas/schema-label", {"schema": GOOD_B64}),
        ("GET", f"/datasets/{_ds}/schemas/schema-label/0", None),
        ("DELETE", f"/datasets/{_ds}/schemas/schema-label/0", None),
        ("POST", f"/datasets/{_ds}/objects", _object()),
        ("GET", f"/datasets/{_ds}/objects", None),
        ("GET", f"/datasets/{_ds}/objects/{UNKNOWN}", None),
        ("GET", f"/datasets/{_ds}/objects/pending", None),
        ("PATCH", f"/datasets/{_ds}/objects/{UNKNOWN}", _object()),
        ("GET", f"/datasets/{_ds}/objects/{UNKNOWN}/0", None),
        ("GET", f"/datasets/{_ds}/objects/{UNKNOWN}/0/thumbnail", None),
        ("DELETE", f"/datasets/{_ds}/objects/{UNKNOWN}/0", None),
        ("POST", f"/datasets/{_ds}/annotations", _annotation()),
        ("GET", f"/datasets/{_ds}/annotations", None),
        ("GET", f"/datasets/{_ds}/annotations/{UNKNOWN}", None),
        ("GET", f"/datasets/{_ds}/annotations/accepted", None),
        ("PATCH", f"/datasets/{_ds}/annotations/{UNKNOWN}", _annotation_update()),
        ("GET", f"/datasets/{_ds}/annotations/{UNKNOWN}/0", None),
        ("DELETE", f"/datasets/{_ds}/annotations/{UNKNOWN}/0", None),
        ("POST", f"/datasets/{_ds}/releases", {"name": "r1"}),
        ("GET", f"/datasets/{_ds}/diff", None),
        ("GET", f"/datasets/{_ds}/export?as_of={UNKNOWN}&format=coco", None),
        ("GET", f"/datasets/{_ds}/stats", None),
        ("GET", f"/datasets/{_ds}/checkpoint", None),
        ("GET", f"/datasets/{_ds}/proofs/inclusion?event={UNKNOWN}", None),
        ("GET", f"/datasets/{_ds}/proofs/consistency?from=1", None),
    ]


def _case_id(case: Any) -> str:
    method, path, body = case
    if isinstance(body, Key):
        return f"{method} {path[:60]} key={str(body.key)[:20]}"
    text = body.data if isinstance(body, Raw) else json.dumps(body)
    ctype = f" [{body.content_type}]" if isinstance(body, Raw) else ""
    text = str(text)
    return f"{method} {path[:60]} {text[:60]}{ctype}".replace(HUGE[:60], "HUGE")


@pytest.fixture
def world(alice, bob):
    """A dataset with one of everything; returns the placeholders' values."""
    alice.post("/datasets", {"name": DS})
    schema = create_schema(alice)["uuid"]
    obj = create_object(alice, b"original bytes", "original.txt")
    ann = create_annotation(alice, [(obj, 0)])
    reviewed = event_of(alice, "objects", obj, 0)
    accept(alice, reviewed)
    log = events(alice)
    obj_event = create_object(alice, b"pending bytes")
    return {"obj": obj, "schema": schema, "ann": ann, "owner_event": log[0]["uuid"],
            "obj_event": event_of(alice, "objects", obj_event, 0),
            "review_event": log[-1]["uuid"], "reviewed_event": reviewed}


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, sub in names.items():
            value = value.replace("{" + key + "}", sub)
        return value
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


# Two storage combinations, not four: between them each backend (SQLite and PostgreSQL, files
# and S3) is under every case. One world per combination serves every case in turn (each a
# subtest): a case must change nothing, which each checks against the log as it found it, so
# the cases need no world of their own (building one per case was minutes of CI).
@pytest.mark.parametrize("storage_kind", ["sqlite-files", "postgres-s3"], indirect=True)
def test_malformed_input_is_a_clean_4xx_and_changes_nothing(alice, world, subtests):
    for case in CASES:
        with subtests.test(msg=_case_id(case)):
            _check_case(alice, world, case)


def _check_case(alice: Any, world: dict[str, str], case: Any) -> None:
    method, path, body = case
    path = _fill(path, world)
    log_before = events(alice)
    datasets_before = alice.get("/datasets").json
    if isinstance(body, Raw):
        kwargs: dict[str, Any] = {"data": body.data}
        if body.content_type is not None:
            kwargs["content_type"] = body.content_type
        resp = alice.request(method, path, **kwargs)
    elif isinstance(body, Key):
        headers = {} if body.key is None else {"x-api-key": body.key}
        resp = alice.request(method, path, {"name": "fresh"} if method in ("POST", "PATCH")
                             else None, headers=headers)
    else:
        resp = alice.request(method, path, _fill(body, world))
    text = resp.get_data(as_text=True)
    assert 400 <= resp.status_code < 500, (resp.status_code, text[:300])
    assert resp.mimetype == "application/json", text[:300]
    payload = json.loads(text)
    assert isinstance(payload, dict) and isinstance(payload.get("error"), str), payload
    assert payload["error"].strip()
    for marker in INTERNALS:
        assert marker not in text, (marker, text[:300])
    assert events(alice) == log_before
    assert alice.get("/datasets").json == datasets_before


def _endpoint(app: Any, method: str, path: str) -> str | None:
    from werkzeug.exceptions import HTTPException

    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(path.split("?")[0].replace("{", "").replace("}", ""),
                                    method=method)
    except HTTPException:  # a 404/405 case: it names no endpoint
        return None
    return endpoint


def test_the_table_covers_every_route(app):
    """Every route of the app appears in the table, so a new endpoint cannot be forgotten."""
    covered = {_endpoint(app, method, path) for method, path, _ in CASES}
    # GET /health, /openapi.json and /docs take no input at all (no key, body or parameter):
    # nothing to malform; nor do the web app's shell (/) and static files (/app/..., tested
    # in tests/web/), nor the OPTIONS answers of the queue's object paths, nor GET /log-key
    takes_no_input = {"health.health", "docs.openapi_document", "docs.reference", "web.index",
                      "web.asset", "work_queue.priority_options", "work_queue.assignee_options",
                      "proofs.log_key"}
    expected = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint not in takes_no_input}
    assert expected <= covered, expected - covered
