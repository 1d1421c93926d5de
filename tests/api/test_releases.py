"""Releases: named points of a dataset's log. POST /datasets/<d>/releases (owners only), the
release's record (the point, counts of its content, the manifest's sha256), its manifest (JSON
Lines, one RFC 8785 line per version of the content, in a fixed order), and the list of releases
in creation order, paged by name."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.support.api import (
    DS,
    HEX64_RE,
    accept,
    assert_error,
    create_annotation,
    create_object,
    create_schema,
    event_of,
    events,
    reject,
)
from tests.support.http import LABEL_SCHEMA, Client, b64

# Every storage combination meets these reads in the property test and the storage tests;
# here the embedded default and the other extreme (the suite is near its time budget).
pytestmark = pytest.mark.parametrize("storage_kind", ["sqlite-files", "postgres-s3"],
                                     indirect=True)

BASE = f"/datasets/{DS}/releases"
UNKNOWN = "0d21d5a7-fe93-4618-a122-7ca9a2ee5116"
SCHEMA_BYTES = json.dumps(LABEL_SCHEMA).encode()  # as tests.support.http.b64 sends it


def _canonical(line: dict[str, Any]) -> bytes:
    """RFC 8785 for these lines: ASCII keys sorted, strings and integers, no whitespace."""
    return (json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            + "\n").encode()


def _object_line(uuid: str, version: int, name: str, mimetype: str, data: bytes) -> bytes:
    return _canonical({"kind": "object", "uuid": uuid, "version": version, "name": name,
                       "mimetype": mimetype, "size": len(data),
                       "sha256": hashlib.sha256(data).hexdigest()})


def _annotation_line(uuid: str, schema: str, doc: Any, objects: list[tuple[str, int]]) -> bytes:
    data = json.dumps(doc).encode()
    return _canonical({"kind": "annotation", "uuid": uuid, "version": 0, "name": None,
                       "mimetype": "application/json", "size": len(data),
                       "sha256": hashlib.sha256(data).hexdigest(),
                       "schema": {"uuid": schema, "version": 0},
                       "objects": [{"uuid": u, "version": v} for u, v in sorted(objects)]})


def _release(client: Client, name: str, at: str | None = None,
             description: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if at is not None:
        body["at"] = at
    if description is not None:
        body["description"] = description
    resp = client.post(BASE, body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json


def _manifest(client: Client, name: str) -> bytes:
    resp = client.get(f"{BASE}/{name}/manifest")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/jsonl"
    return resp.get_data()


def _build(alice: Client, bob: Client) -> dict[str, Any]:
    """A dataset whose content changes between two points: `early` (every annotation in the
    content) and the latest event (b updated and e deleted, so two annotations are stale)."""
    schema = create_schema(alice)["uuid"]
    accept(alice, event_of(alice, "schemas", "schema-label", 0))
    a = create_object(alice, b"alpha", "a.txt")
    b = create_object(alice, b"bravo", "b.png", mimetype="image/png")
    f = create_object(alice, b"foxtrot", "f.txt")
    e = create_object(alice, b"echo", "e.txt")
    for obj in (a, b, f, e):
        accept(alice, event_of(alice, "objects", obj, 0))
    create_object(bob, b"charlie (pending)")
    reject(alice, event_of(alice, "objects", create_object(bob, b"delta (rejected)"), 0))
    x = create_annotation(alice, [(f, 0), (a, 0)], {"label": "x"})
    y = create_annotation(alice, [(b, 0)], {"label": "y"})
    z = create_annotation(alice, [(e, 0)], {"label": "z"})
    for ann in (x, y, z):
        accept(alice, event_of(alice, "annotations", ann, 0))
    early = events(alice)[-1]
    resp = alice.patch(f"/datasets/{DS}/objects/{b}",
                       {"name": "b2.png", "mimetype": "image/png", "object": b64(b"bravo 2")})
    assert resp.status_code == 200, resp.json
    accept(alice, event_of(alice, "objects", b, 1))  # y links b v0: stale from now on
    assert alice.delete(f"/datasets/{DS}/objects/{e}/0").status_code == 200
    accept(alice, event_of(alice, "objects", e, 0, "DeleteEvent"))  # z stale, e gone
    create_annotation(bob, [(a, 0)], {"label": "pending"})  # neither content nor stale
    return {"schema": schema, "a": a, "b": b, "f": f, "e": e, "x": x, "y": y, "z": z,
            "early": early}


def test_releases_record_their_point_counts_and_manifest(alice, bob, ds):
    w = _build(alice, bob)
    log = events(alice)
    schema_line = _canonical({"kind": "schema", "uuid": w["schema"], "version": 0,
                              "name": "schema-label", "mimetype": "application/schema+json",
                              "size": len(SCHEMA_BYTES),
                              "sha256": hashlib.sha256(SCHEMA_BYTES).hexdigest()})
    a_line = _object_line(w["a"], 0, "a.txt", "text/plain", b"alpha")
    f_line = _object_line(w["f"], 0, "f.txt", "text/plain", b"foxtrot")
    x_line = _annotation_line(w["x"], w["schema"], {"label": "x"}, [(w["f"], 0), (w["a"], 0)])

    # The latest event by default; the description is optional.
    latest = _release(alice, "v2.0")
    latest_lines = [schema_line, a_line,
                    _object_line(w["b"], 1, "b2.png", "image/png", b"bravo 2"), f_line, x_line]
    # its signed checkpoint is the log's at the point (tests/api/test_verifiable_log.py checks
    # signatures and roots)
    assert latest["checkpoint"].split("\n")[1:2] == [str(len(log))]
    assert latest == {
        "name": "v2.0", "description": "", "author": "alice", "created": latest["created"],
        "checkpoint": latest["checkpoint"],
        "at": {"uuid": log[-1]["uuid"], "index": len(log) - 1,
               "integrity": log[-1]["integrity"]},
        # bytes: the sizes of every version in the content; y and z are stale
        "counts": {"objects": 3, "schemas": 1, "annotations": 1, "stale_annotations": 2,
                   "bytes": len(SCHEMA_BYTES) + len(b"alphabravo 2foxtrot")
                   + len(json.dumps({"label": "x"}))},
        "manifest_sha256": latest["manifest_sha256"],
    }
    assert isinstance(latest["created"], str) and latest["created"]
    body = _manifest(alice, "v2.0")
    # schemas, objects, annotations, each in creation order (b before f although b's
    # accepted version is newer); every line canonical JSON
    assert body.splitlines(keepends=True) == latest_lines
    assert latest["manifest_sha256"] == hashlib.sha256(body).hexdigest()
    assert HEX64_RE.match(latest["manifest_sha256"])

    # An earlier point: b's first version, e, and every annotation; no stale annotation.
    early = w["early"]
    index = [e["uuid"] for e in log].index(early["uuid"])
    first = _release(alice, "r1", at=early["uuid"].upper(), description="before the update")
    assert first["at"] == {"uuid": early["uuid"], "index": index,
                           "integrity": early["integrity"]}
    assert first["description"] == "before the update"
    assert first["counts"] == {
        "objects": 4, "schemas": 1, "annotations": 3, "stale_annotations": 0,
        "bytes": len(SCHEMA_BYTES) + len(b"alphabravofoxtrotecho")
        + sum(len(json.dumps({"label": k})) for k in "xyz")}
    early_lines = [schema_line, a_line, _object_line(w["b"], 0, "b.png", "image/png", b"bravo"),
                   f_line, _object_line(w["e"], 0, "e.txt", "text/plain", b"echo"), x_line,
                   _annotation_line(w["y"], w["schema"], {"label": "y"}, [(w["b"], 0)]),
                   _annotation_line(w["z"], w["schema"], {"label": "z"}, [(w["e"], 0)])]
    body = _manifest(alice, "r1")
    assert body.splitlines(keepends=True) == early_lines
    assert first["manifest_sha256"] == hashlib.sha256(body).hexdigest()

    # A release is not an event: the log is unchanged. Later changes leave the releases as
    # they were: the same record, the same manifest bytes, for anyone who reads them.
    assert events(alice) == log
    create_object(alice, b"later")
    accept(alice, events(alice)[-1]["uuid"])
    for reader in (alice, bob):
        assert reader.get(f"{BASE}/r1").json == first
        assert reader.get(f"{BASE}/v2.0").json == latest
        assert _manifest(reader, "r1") == body
    resp = alice.get(f"{BASE}/r1/manifest")
    assert resp.headers["ETag"].strip('"') == first["manifest_sha256"]
    resp = alice.get(f"{BASE}/r1/manifest",
                     headers={"x-api-key": alice.key, "If-None-Match": resp.headers["ETag"]})
    assert resp.status_code == 304 and resp.get_data() == b""
    weak = alice.get(f"{BASE}/r1/manifest", headers={
        "x-api-key": alice.key, "If-None-Match": f'W/"{first["manifest_sha256"]}"'})
    assert weak.status_code == 304  # If-None-Match compares weakly (RFC 9110)
    other = alice.get(f"{BASE}/r1/manifest",
                      headers={"x-api-key": alice.key, "If-None-Match": '"other"'})
    assert other.status_code == 200 and other.get_data() == body
    assert "Content-Length" not in other.headers  # streamed, never built whole first

    # The empty content (a new dataset: one OwnerAddEvent) has an empty manifest.
    assert alice.post("/datasets", {"name": "empty"}).status_code == 200
    resp = alice.post("/datasets/empty/releases", {"name": "nothing"})
    assert resp.status_code == 200, resp.json
    assert resp.json["counts"] == {"objects": 0, "schemas": 0, "annotations": 0, "bytes": 0,
                                   "stale_annotations": 0}
    assert resp.json["at"]["index"] == 0
    assert resp.json["manifest_sha256"] == hashlib.sha256(b"").hexdigest()
    manifest = alice.get("/datasets/empty/releases/nothing/manifest")
    assert manifest.status_code == 200 and manifest.get_data() == b""


def test_release_errors(alice, bob, ds):
    create_object(alice, b"x")
    log = events(alice)
    assert alice.post("/datasets", {"name": "other"}).status_code == 200
    elsewhere = events(alice, "other")[0]["uuid"]

    # owners only
    assert_error(bob.post(BASE, {"name": "r1"}), 403, "owner")
    assert alice.put(f"/datasets/{DS}/owners/bob").status_code == 200
    assert bob.post(BASE, {"name": "by-bob"}).json["author"] == "bob"

    # names: 1 to 128 of A-Z a-z 0-9 . _ -, from a letter or digit, not UUID-shaped
    for good in ("r1", "0", "A.b_c-9", "x" * 128, "v1.0.0-rc.1"):
        assert _release(alice, good)["name"] == good
    for bad in ("", ".hidden", "-x", "_x", "a b", "a/b", "é", "x" * 129, UNKNOWN,
                UNKNOWN.upper(), "r1\n"):
        assert_error(alice.post(BASE, {"name": bad}), 400)
    bad_types: list[Any] = [None, 5, [], {"name": "r9"}]
    for bad_type in bad_types:
        assert_error(alice.post(BASE, {"name": bad_type}), 400)
    assert_error(alice.post(BASE, {"description": "no name"}), 400)
    assert_error(alice.post(BASE, {"name": "r9", "description": 5}), 400)
    # control characters other than tab and line breaks (PostgreSQL refuses NUL)
    for control in ("\u0000", "a\u0007b", "\u007f"):
        assert_error(alice.post(BASE, {"name": "r9", "description": control}), 400)
    assert _release(alice, "multi-line", description="one\ttwo\nthree\r\n")[
        "description"] == "one\ttwo\nthree\r\n"

    # taken, whatever the point
    assert_error(alice.post(BASE, {"name": "r1", "at": log[0]["uuid"]}), 409)

    # `at`: an event of this dataset
    assert_error(alice.post(BASE, {"name": "r9", "at": UNKNOWN}), 404)
    assert_error(alice.post(BASE, {"name": "r9", "at": elsewhere}), 404)
    malformed_points: list[Any] = ["nope", "r1", 5, [], UNKNOWN[:-1]]
    for malformed in malformed_points:
        assert_error(alice.post(BASE, {"name": "r9", "at": malformed}), 400)
    assert_error(alice.post("/datasets/nope/releases", {"name": "r9"}), 404)

    # releases never change nor go away
    for method in ("DELETE", "PATCH", "PUT"):
        assert_error(alice.request(method, f"{BASE}/r1", {"name": "r2"}), 405)
    assert alice.get(f"{BASE}/r1").status_code == 200

    # unknown releases
    assert_error(alice.get(f"{BASE}/r9"), 404)
    assert_error(alice.get(f"{BASE}/r9/manifest"), 404)
    assert_error(alice.get("/datasets/other/releases/r1"), 404)
    assert_error(alice.get(f"{BASE}/.r1"), 400)
    # none of the failures (nor any release) added an event: only bob's OwnerAddEvent
    after = events(alice)
    assert after[:len(log)] == log
    assert [e["type"] for e in after[len(log):]] == ["OwnerAddEvent"]

    # none of the failures made a release
    assert [r["name"] for r in alice.get(f"{BASE}?limit=1000").json] == [
        "by-bob", "r1", "0", "A.b_c-9", "x" * 128, "v1.0.0-rc.1", "multi-line"]


def test_the_list_of_releases_in_creation_order_paged_by_name(alice, ds):
    assert alice.get(BASE).json == []
    names = ["zeta", "alpha", "m.1", "beta", "a-2"]  # not in name order
    made = []
    for i, name in enumerate(names):
        create_object(alice, f"object {i}")
        made.append(_release(alice, name))
    assert alice.get(BASE).json == made
    assert [r["at"]["index"] for r in made] == sorted(r["at"]["index"] for r in made)
    for limit in (1, 2, 3, 5, 1000):
        pages, after = [], None
        while True:
            query = f"?limit={limit}" + (f"&after={after}" if after else "")
            resp = alice.get(BASE + query)
            assert resp.status_code == 200, resp.json
            if not resp.json:
                break
            assert len(resp.json) <= limit
            pages += resp.json
            after = resp.json[-1]["name"]
        assert pages == made, limit
    assert alice.get(f"{BASE}?after=m.1").json == made[3:]
    assert alice.get(f"{BASE}?after=a-2").json == []
    assert_error(alice.get(f"{BASE}?after=nope"), 404)
    for bad in (f"after={UNKNOWN}", "after=.x", "after=", "limit=0", "limit=1001", "limit=x"):
        assert_error(alice.get(f"{BASE}?{bad}"), 400)
