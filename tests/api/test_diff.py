"""GET /datasets/<d>/diff?from=<point>&to=<point>: what changed in the content (per item, its
newest version accepted and not deleted, annotations only with all their objects) between two
points, by kind (schemas, objects, annotations) then creation order, paged with after/limit."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.support.api import (
    DS,
    accept,
    assert_error,
    create_annotation,
    create_object,
    create_schema,
    event_of,
    events,
)
from tests.support.http import LABEL_SCHEMA, Client, b64

# Every storage combination meets these reads in the property test and the storage tests;
# here the embedded default and the other extreme (the suite is near its time budget).
pytestmark = pytest.mark.parametrize("storage_kind", ["sqlite-files", "postgres-s3"],
                                     indirect=True)

D = f"/datasets/{DS}"
UNKNOWN = "0d21d5a7-fe93-4618-a122-7ca9a2ee5116"
SCHEMA_V1 = {**LABEL_SCHEMA, "title": "labels"}


def _sha(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return hashlib.sha256(raw).hexdigest()


def _side(version: int, name: str | None, data: bytes | dict[str, Any]) -> dict[str, Any]:
    return {"version": version, "name": name, "sha256": _sha(data)}


def _change(kind: str, uuid: str, old: dict[str, Any] | None,
            new: dict[str, Any] | None) -> dict[str, Any]:
    change = "added" if old is None else "removed" if new is None else "changed"
    return {"kind": kind, "uuid": uuid, "change": change, "from": old, "to": new}


def _diff(client: Client, query: str = "") -> list[dict[str, Any]]:
    resp = client.get(f"{D}/diff?limit=1000{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json


def _accepted(client: Client, kind: str, item: str, version: int, suffix: str = "") -> None:
    accept(client, event_of(client, kind, item, version, suffix))


def _update_object(client: Client, item: str, name: str, data: bytes) -> None:
    resp = client.patch(f"{D}/objects/{item}",
                        {"name": name, "mimetype": "text/plain", "object": b64(data)})
    assert resp.status_code == 200, resp.json
    _accepted(client, "objects", item, resp.json["version"])


def test_diff_between_points(alice, bob, ds):
    schema = create_schema(alice)["uuid"]
    _accepted(alice, "schemas", "schema-label", 0)
    a = create_object(alice, b"alpha", "a.txt")
    b = create_object(alice, b"bravo", "b.txt")
    e = create_object(alice, b"echo", "e.txt")
    for obj in (a, b, e):
        _accepted(alice, "objects", obj, 0)
    x = create_annotation(alice, [(a, 0)], {"label": "x"})
    w = create_annotation(alice, [(e, 0)], {"label": "w"})
    for ann in (x, w):
        _accepted(alice, "annotations", ann, 0)
    base = events(alice)[-1]["uuid"]
    assert alice.post(f"{D}/releases", {"name": "base"}).status_code == 200

    # After the base: one change of every sort in every kind, and changes that cancel out.
    resp = alice.patch(f"{D}/schemas/schema-label", {"schema": b64(SCHEMA_V1)})
    assert resp.status_code == 200, resp.json
    _accepted(alice, "schemas", "schema-label", 1)  # changed
    _update_object(alice, a, "a2.txt", b"alpha 2")  # changed; x links a v0: removed
    assert alice.delete(f"{D}/objects/{b}/0").status_code == 200
    _accepted(alice, "objects", b, 0, "DeleteEvent")  # removed
    c = create_object(alice, b"charlie", "c.txt")
    _accepted(alice, "objects", c, 0)  # added
    create_object(bob, b"delta, pending")  # not in any content
    f = create_object(alice, b"foxtrot", "f.txt")
    _accepted(alice, "objects", f, 0)
    middle = events(alice)[-1]["uuid"]
    assert alice.delete(f"{D}/objects/{f}/0").status_code == 200
    _accepted(alice, "objects", f, 0, "DeleteEvent")  # added then removed: no change
    resp = alice.patch(f"{D}/annotations/{w}", {"schema": {"name": "schema-label", "version": 1},
                                                 "annotation": b64({"label": "w2"})})
    assert resp.status_code == 200, resp.json
    _accepted(alice, "annotations", w, 1)  # changed
    y = create_annotation(alice, [(a, 1)], {"label": "y"})
    _accepted(alice, "annotations", y, 0)  # added
    latest = events(alice)[-1]["uuid"]

    s0, s1 = _side(0, "schema-label", LABEL_SCHEMA), _side(1, "schema-label", SCHEMA_V1)
    a0, a1 = _side(0, "a.txt", b"alpha"), _side(1, "a2.txt", b"alpha 2")
    b0, c0 = _side(0, "b.txt", b"bravo"), _side(0, "c.txt", b"charlie")
    e0 = _side(0, "e.txt", b"echo")
    x0, w0 = _side(0, None, {"label": "x"}), _side(0, None, {"label": "w"})
    w1, y0 = _side(1, None, {"label": "w2"}), _side(0, None, {"label": "y"})
    since_base = [
        _change("schema", schema, s0, s1),
        _change("object", a, a0, a1), _change("object", b, b0, None),
        _change("object", c, None, c0),
        _change("annotation", x, x0, None), _change("annotation", w, w0, w1),
        _change("annotation", y, None, y0),
    ]
    assert _diff(alice, f"&from={base}") == since_base
    assert _diff(alice, f"&from={base}&to={latest}") == since_base
    assert _diff(alice, "&from=base") == since_base  # a release names its point
    assert _diff(alice, f"&from={base.upper()}&to={latest.upper()}") == since_base
    # the other way round: added and removed swap, and so do from and to
    assert _diff(alice, f"&from={latest}&to=base") == [
        _change(c["kind"], c["uuid"], c["to"], c["from"]) for c in since_base]
    # without from: everything in the content at `to` is added
    assert _diff(alice, "&to=base") == [
        _change("schema", schema, None, s0), _change("object", a, None, a0),
        _change("object", b, None, b0), _change("object", e, None, e0),
        _change("annotation", x, None, x0), _change("annotation", w, None, w0)]
    assert _diff(alice) == [
        _change("schema", schema, None, s1), _change("object", a, None, a1),
        _change("object", e, None, e0), _change("object", c, None, c0),
        _change("annotation", w, None, w1), _change("annotation", y, None, y0)]
    middle_objects = [d for d in _diff(alice, f"&from={base}&to={middle}")
                      if d["kind"] == "object"]
    assert middle_objects[-1] == _change("object", f, None, _side(0, "f.txt", b"foxtrot"))
    for same in (base, "base", latest):
        assert _diff(alice, f"&from={same}&to={same}") == []
    first = events(alice)[0]["uuid"]
    assert _diff(alice, f"&to={first}") == [] == _diff(alice, f"&from={first}&to={first}")
    assert bob.get(f"{D}/diff?from=base").json == since_base  # any reader, default limit
    # the `to` point as an event uuid, so later pages can name it while the log grows
    assert bob.get(f"{D}/diff?from=base").headers["Gonk-Diff-To"] == events(alice)[-1]["uuid"]
    assert bob.get(f"{D}/diff?from=base&to=base").headers["Gonk-Diff-To"] == base

    # paging: after the last change's uuid, pages make the whole diff, across kinds
    everything = _diff(alice, f"&from={base}")
    for limit in (1, 2, 3, 4):
        pages: list[Any] = []
        cursor = ""
        while True:
            resp = alice.get(f"{D}/diff?from={base}&limit={limit}{cursor}")
            assert resp.status_code == 200, resp.json
            assert len(resp.json) <= limit
            if not resp.json:
                break
            pages += resp.json
            cursor = f"&after={resp.json[-1]['uuid']}"
        assert pages == everything, limit
    assert _diff(alice, f"&from={base}&after={b}") == everything[3:]
    assert _diff(alice, f"&from={base}&after={schema}") == everything[1:]
    assert _diff(alice, f"&from={base}&after={y}") == []

    # errors
    assert alice.post("/datasets", {"name": "other"}).status_code == 200
    elsewhere = events(alice, "other")[0]["uuid"]
    for bad in ("from=.x", "to=a%20b", "from=", "to=" + "x" * 129, "after=nope", "after=",
                "limit=0", "limit=1001", "limit=x"):
        assert_error(alice.get(f"{D}/diff?{bad}"), 400)
    for unknown in (f"from={UNKNOWN}", f"to={elsewhere}", "from=v9", f"to={a}",
                    f"after={UNKNOWN}", f"after={elsewhere}"):
        assert_error(alice.get(f"{D}/diff?{unknown}"), 404)
    assert_error(alice.get("/datasets/nope/diff"), 404)
