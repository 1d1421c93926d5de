"""/datasets/<d>/annotations: create, list, info, update, status lists, load, delete."""

from __future__ import annotations

import json

import pytest

from tests.support.api import (
    DS,
    ITEM_STATUSES,
    UUID_RE,
    accept,
    annotation_body,
    assert_error,
    create_annotation,
    create_object,
    create_schema,
    event_of,
    events,
    load_object,
    reject,
    sha256,
    status_list,
    statuses_of,
    unb64,
)
from tests.support.http import b64

BASE = f"/datasets/{DS}/annotations"
BOX_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "definitions": {"point": {"type": "object", "properties": {"x": {"type": "number"},
                                                              "y": {"type": "number"}},
                              "required": ["x", "y"]}},
    "type": "object",
    "properties": {"label": {"type": "string"},
                   "points": {"type": "array", "items": {"$ref": "#/definitions/point"},
                              "minItems": 2, "maxItems": 2}},
    "required": ["points", "label"],
}
BOX = {"label": "bird", "points": [{"x": 1, "y": 0}, {"x": 7, "y": 5}]}


@pytest.fixture
def obj(alice, ds):
    """An object and the label schema, both pending."""
    create_schema(alice)
    return create_object(alice, b"an image")


def _update(client, uuid, doc, version=0, schema="schema-label"):
    return client.patch(f"{BASE}/{uuid}", {"schema": {"name": schema, "version": version},
                                           "annotation": b64(doc)})


def _schema_entry(client, name="schema-label", version=0):
    """The "schema" of an annotation list entry: {"uuid", "version", "name"}."""
    info = client.get(f"/datasets/{DS}/schemas/{name}")
    assert info.status_code == 200, info.json
    return {"uuid": info.json["uuid"], "version": version, "name": name}


# --- create / list / info / update -----------------------------------------------------------


def test_create_annotation_shape(alice, bob, obj):
    resp = bob.post(BASE, annotation_body([(obj, 0)]))
    assert resp.status_code == 200
    assert set(resp.json) == {"uuid", "version"}
    assert UUID_RE.match(resp.json["uuid"])
    assert resp.json["version"] == 0
    event = events(alice)[-1]
    assert event["type"] == "AnnotationCreateEvent"
    assert event["author"] == "bob"
    assert event["object_identifiers"] == [{"uuid": obj, "version": 0}]


def test_list_and_info(alice, obj):
    a = create_annotation(alice, [(obj, 0)])
    b = create_annotation(alice, [(obj, 0)], {"label": "cat"})
    resp = alice.get(BASE)
    assert resp.status_code == 200
    label = _schema_entry(alice)
    assert resp.json == [{"uuid": a, "versions": 1, "schema": label},
                         {"uuid": b, "versions": 1, "schema": label}]
    info = alice.get(f"{BASE}/{a}")
    assert info.status_code == 200
    assert info.json == {"uuid": a, "versions": 1}
    assert_error(alice.get(f"{BASE}/0d21d5a7-fe93-4618-a122-7ca9a2ee5116"), 404)
    assert_error(alice.get(f"{BASE}/{obj}"), 404)  # an object is not an annotation


def test_seed_example_with_box_schema(alice, ds):
    create_schema(alice, "schema-example", BOX_SCHEMA)
    uuid = create_object(alice, b"birds")
    ann = create_annotation(alice, [(uuid, 0)], BOX, "schema-example")
    body = alice.get(f"{BASE}/{ann}/0").json
    assert json.loads(unb64(body["bytes"])) == BOX


def test_annotation_on_several_objects(alice, obj):
    others = [create_object(alice, f"image {i}") for i in range(3)]
    targets = [(others[1], 0), (obj, 0), (others[0], 0), (others[2], 0)]
    ann = create_annotation(alice, targets)
    body = alice.get(f"{BASE}/{ann}/0").json
    assert body["objects"] == [{"uuid": u, "version": v} for u, v in targets]
    for uuid, version in targets:
        assert load_object(alice, uuid, version)["annotations"] == [{"uuid": ann, "versions": 1}]
    event = events(alice)[-1]
    assert event["object_identifiers"] == [{"uuid": u, "version": v} for u, v in targets]


def test_annotation_on_several_versions_of_one_object(alice, obj):
    alice.patch(f"/datasets/{DS}/objects/{obj}",
                {"name": "f", "mimetype": "text/plain", "object": b64(b"v1")})
    ann = create_annotation(alice, [(obj, 1), (obj, 0)])
    assert alice.get(f"{BASE}/{ann}/0").json["objects"] == [
        {"uuid": obj, "version": 1}, {"uuid": obj, "version": 0}]


def test_update_annotation_keeps_links(alice, bob, obj):
    ann = create_annotation(alice, [(obj, 0)])
    resp = _update(bob, ann, {"label": "cat"})
    assert resp.status_code == 200
    assert resp.json == {"uuid": ann, "version": 1}
    assert alice.get(f"{BASE}/{ann}").json == {"uuid": ann, "versions": 2}
    body = alice.get(f"{BASE}/{ann}/1").json
    assert body["objects"] == [{"uuid": obj, "version": 0}]
    assert json.loads(unb64(body["bytes"])) == {"label": "cat"}
    assert [e["type"] for e in body["events"]] == ["AnnotationUpdateEvent"]
    event = events(alice)[-1]
    assert set(event) == {"uuid", "type", "timestamp", "author", "integrity", "action",
                          "annotation"}


def test_update_to_new_schema_version(alice, obj):
    ann = create_annotation(alice, [(obj, 0)])
    alice.patch(f"/datasets/{DS}/schemas/schema-label", {"schema": b64(BOX_SCHEMA)})
    assert _update(alice, ann, {"label": "x"}, 1).status_code == 422  # points missing
    resp = _update(alice, ann, BOX, 1)
    assert resp.status_code == 200
    schema_uuid = alice.get(f"/datasets/{DS}/schemas/schema-label").json["uuid"]
    assert alice.get(f"{BASE}/{ann}/1").json["annotation"]["schema"] == {
        "uuid": schema_uuid, "version": 1}


def test_update_unchanged_is_409(alice, obj):
    ann = create_annotation(alice, [(obj, 0)])
    before = events(alice)
    assert_error(_update(alice, ann, {"label": "bird"}), 409)
    assert events(alice) == before


def test_update_errors(alice, obj):
    ann = create_annotation(alice, [(obj, 0)])
    assert_error(_update(alice, "0d21d5a7-fe93-4618-a122-7ca9a2ee5116", {"label": "x"}), 404)
    assert_error(_update(alice, obj, {"label": "x"}), 404)  # an object uuid
    assert_error(_update(alice, ann, {"label": 5}), 422)
    assert_error(_update(alice, ann, {"label": "x"}, 7), 404)
    assert_error(_update(alice, ann, {"label": "x"}, 0, "schema-nope"), 404)
    assert_error(alice.patch(f"{BASE}/{ann}", {"annotation": b64({"label": "x"})}), 400)
    assert_error(alice.patch(f"{BASE}/{ann}", {"schema": {"name": "schema-label",
                                                          "version": 0}}), 400)
    assert_error(alice.patch(f"{BASE}/pending", {"schema": {"name": "schema-label",
                                                            "version": 0},
                                                 "annotation": b64({"label": "x"})}), 405)
    assert alice.get(f"{BASE}/{ann}").json["versions"] == 1


# --- validation against the schema -----------------------------------------------------------


@pytest.mark.parametrize("doc,path", [
    ({"label": 5}, "/label"),
    ({}, ""),
    ({"label": ["x"]}, "/label"),
    ([], ""),
])
def test_nonconforming_annotation_is_422_with_details(alice, obj, doc, path):
    before = events(alice)
    body = assert_error(alice.post(BASE, annotation_body([(obj, 0)], doc)), 422)
    assert isinstance(body["details"], list) and body["details"]
    assert all(set(d) >= {"path", "message"} for d in body["details"])
    assert path in [d["path"] for d in body["details"]]
    assert events(alice) == before


def test_nested_details_point_at_the_problem(alice, ds):
    create_schema(alice, "schema-example", BOX_SCHEMA)
    uuid = create_object(alice, b"img")
    doc = {"label": "bird", "points": [{"x": 1, "y": 0}, {"x": "seven", "y": 5}]}
    body = assert_error(alice.post(BASE, annotation_body([(uuid, 0)], doc, "schema-example")),
                        422)
    assert body["details"][0]["path"] == "/points/1/x"
    assert "seven" in body["details"][0]["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"", b"NaN", b'{"label": NaN}'])
def test_annotation_that_is_not_json_is_422(alice, obj, raw):
    body = {"schema": {"name": "schema-label", "version": 0},
            "object_identifiers": [{"uuid": obj, "version": 0}],
            "annotation": b64(raw)}
    assert_error(alice.post(BASE, body), 422)


def test_remote_refs_are_never_fetched(alice, ds):
    import http.server
    import threading

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"type": "object"}')

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/remote.json"
        create_schema(alice, "schema-remote", {"$ref": url})
        uuid = create_object(alice, b"img")
        resp = alice.post(BASE, annotation_body([(uuid, 0)], {"a": 1}, "schema-remote"))
        assert_error(resp, 422)
        assert hits == []
    finally:
        server.shutdown()
        server.server_close()


def test_unresolvable_local_ref_is_422(alice, ds):
    create_schema(alice, "schema-broken", {"properties": {"a": {"$ref": "#/$defs/missing"}}})
    uuid = create_object(alice, b"img")
    before = events(alice)
    body = assert_error(
        alice.post(BASE, annotation_body([(uuid, 0)], {"a": 1}, "schema-broken")), 422)
    assert "$defs/missing" in body["details"][0]["message"]
    assert "PointerToNowhere" not in body["error"]
    assert events(alice) == before


# --- schema references -----------------------------------------------------------------------


def test_unknown_schema_or_version_is_404(alice, obj):
    assert_error(alice.post(BASE, annotation_body([(obj, 0)], schema="schema-nope")), 404)
    assert_error(alice.post(BASE, annotation_body([(obj, 0)], version=1)), 404)
    assert alice.get(BASE).json == []


def test_pending_schema_is_allowed(alice, obj):
    assert alice.get(f"/datasets/{DS}/schemas/pending").json != []
    create_annotation(alice, [(obj, 0)])


def test_rejected_schema_is_409(alice, obj):
    reject(alice, event_of(alice, "schemas", "schema-label", 0))
    before = events(alice)
    assert_error(alice.post(BASE, annotation_body([(obj, 0)])), 409, "rejected")
    assert events(alice) == before


def test_deprecated_schema_is_409(alice, obj):
    ann = create_annotation(alice, [(obj, 0)])
    accept(alice, event_of(alice, "schemas", "schema-label", 0))
    alice.delete(f"/datasets/{DS}/schemas/schema-label/0")
    accept(alice, event_of(alice, "schemas", "schema-label", 0, "DeleteEvent"))
    assert_error(alice.post(BASE, annotation_body([(obj, 0)], {"label": "x"})), 409,
                 "deprecated")
    assert_error(_update(alice, ann, {"label": "y"}), 409, "deprecated")
    # a pending annotation on a now-deprecated schema cannot be accepted (current behaviour)
    assert_error(alice.put(f"/datasets/{DS}/events/"
                           f"{event_of(alice, 'annotations', ann, 0)}/accept"), 409)


@pytest.mark.parametrize("schema", [
    None, "schema-label", {"name": "schema-label"}, {"version": 0},
    {"name": "label", "version": 0}, {"name": 5, "version": 0},
    {"name": "schema-label", "version": -1}, {"name": "schema-label", "version": "0x"},
    {"name": "schema-label", "version": 1.5}, {"name": "schema-label", "version": True},
    {"name": "schema-label", "version": 10**30}, [], {"name": "x" * 10_000, "version": 0},
])
def test_malformed_schema_reference_is_400(alice, obj, schema):
    body = annotation_body([(obj, 0)])
    body["schema"] = schema
    assert_error(alice.post(BASE, body), 400)


# --- object identifiers ----------------------------------------------------------------------


@pytest.mark.parametrize("identifiers", [
    None, [], "x", {"uuid": "0d21d5a7-fe93-4618-a122-7ca9a2ee5116", "version": 0}, [5],
    [{"uuid": "nope", "version": 0}], [{"version": 0}], [{"uuid": "{obj}"}],
    [{"uuid": "{obj}", "version": -1}], [{"uuid": "{obj}", "version": "zero"}],
    [{"uuid": "{obj}", "version": 0}, {"uuid": "{obj}", "version": 0}],
    [{"uuid": "{obj}", "version": 0}, {"uuid": "{OBJ}", "version": 0}],
    [{"uuid": "{obj}", "version": 10**30}],
])
def test_malformed_object_identifiers_are_400(alice, obj, identifiers):
    rendered = json.loads(json.dumps(identifiers).replace("{obj}", obj)
                          .replace("{OBJ}", obj.upper()))
    body = annotation_body([(obj, 0)])
    body["object_identifiers"] = rendered
    before = events(alice)
    assert_error(alice.post(BASE, body), 400)
    assert events(alice) == before


def test_unknown_object_is_404(alice, obj):
    assert_error(alice.post(BASE, annotation_body(
        [(obj, 0), ("0d21d5a7-fe93-4618-a122-7ca9a2ee5116", 0)])), 404)
    assert_error(alice.post(BASE, annotation_body([(obj, 1)])), 404)
    assert alice.get(BASE).json == []


def test_schema_as_object_is_400(alice, obj):
    schema_uuid = alice.get(f"/datasets/{DS}/schemas/schema-label").json["uuid"]
    assert_error(alice.post(BASE, annotation_body([(schema_uuid, 0)])), 400, "schema")


def test_annotation_as_object_is_rejected(alice, obj):
    ann = create_annotation(alice, [(obj, 0)])
    resp = alice.post(BASE, annotation_body([(ann, 0)]))
    assert resp.status_code in (400, 404)
    assert_error(resp, resp.status_code)


def test_rejected_or_deleted_object_is_409(alice, obj):
    reject(alice, event_of(alice, "objects", obj, 0))
    assert_error(alice.post(BASE, annotation_body([(obj, 0)])), 409, "rejected")
    other = create_object(alice, b"other")
    accept(alice, event_of(alice, "objects", other, 0))
    alice.delete(f"/datasets/{DS}/objects/{other}/0")
    create_annotation(alice, [(other, 0)])  # delete only pending: still fine
    accept(alice, event_of(alice, "objects", other, 0, "DeleteEvent"))
    assert_error(alice.post(BASE, annotation_body([(other, 0)], {"label": "z"})), 409,
                 "deleted")


# --- load ------------------------------------------------------------------------------------


def test_load_annotation_shape(alice, obj):
    doc = json.dumps({"label": "bird"}).encode()
    ann = create_annotation(alice, [(obj, 0)])
    create_uuid = events(alice)[-1]["uuid"]
    alice.delete(f"{BASE}/{ann}/0")
    delete_uuid = events(alice)[-1]["uuid"]
    schema_uuid = alice.get(f"/datasets/{DS}/schemas/schema-label").json["uuid"]
    resp = alice.get(f"{BASE}/{ann}/0")
    assert resp.status_code == 200
    body = resp.json
    assert set(body) == {"annotation", "bytes", "events", "objects"}
    assert body["annotation"] == {"uuid": ann, "version": 0,
                                  "schema": {"uuid": schema_uuid, "version": 0},
                                  "size": len(doc), "hash_type": 1, "hash": sha256(doc)}
    assert unb64(body["bytes"]) == doc
    assert body["events"] == [
        {"uuid": create_uuid, "type": "AnnotationCreateEvent", "review": "PENDING"},
        {"uuid": delete_uuid, "type": "AnnotationDeleteEvent", "review": "PENDING"},
    ]
    assert body["objects"] == [{"uuid": obj, "version": 0}]


def test_load_errors(alice, obj):
    ann = create_annotation(alice, [(obj, 0)])
    assert_error(alice.get(f"{BASE}/{ann}/1"), 404)
    assert_error(alice.get(f"{BASE}/{obj}/0"), 404)
    assert_error(alice.get(f"{BASE}/bad/0"), 400)
    assert_error(alice.get(f"{BASE}/{ann}/v1"), 400)
    assert alice.get(f"{BASE}/{ann.upper()}/0").json["annotation"]["uuid"] == ann


def test_uppercase_uuids(alice, obj):
    ann = create_annotation(alice, [(obj.upper(), 0)])
    upper = ann.upper()
    assert alice.get(f"{BASE}/{upper}").json == {"uuid": ann, "versions": 1}
    assert _update(alice, upper, {"label": "cat"}).json == {"uuid": ann, "version": 1}
    assert alice.get(f"{BASE}/{upper}/1").json["annotation"]["uuid"] == ann
    assert alice.get(f"{BASE}/{upper}/0").json["objects"] == [{"uuid": obj, "version": 0}]
    assert alice.delete(f"{BASE}/{upper}/1").json == {"uuid": ann, "version": 1}
    assert alice.get(f"{BASE}?after={upper}").json == []
    assert status_list(alice, BASE, "pending", f"?after={upper}") == []
    event_uuid = event_of(alice, "annotations", upper, 0)
    resp = alice.put(f"/datasets/{DS}/events/{event_uuid.upper()}/accept")
    assert resp.json == {"uuid": event_uuid}
    assert statuses_of(alice, BASE, ann, 0) == {"accepted"}


# --- delete and status lists -----------------------------------------------------------------


def test_delete_annotation(alice, bob, obj):
    ann = create_annotation(alice, [(obj, 0)])
    resp = bob.delete(f"{BASE}/{ann}/0")
    assert resp.status_code == 200
    assert resp.json == {"uuid": ann, "version": 0}
    event = events(alice)[-1]
    assert event["type"] == "AnnotationDeleteEvent" and event["action"] == 4
    assert event["annotation_identifier"] == {"uuid": ann, "version": 0}


def test_delete_errors(alice, obj):
    ann = create_annotation(alice, [(obj, 0)])
    assert_error(alice.delete(f"{BASE}/{ann}/1"), 404)
    assert_error(alice.delete(f"{BASE}/{obj}/0"), 404)
    assert_error(alice.delete(f"{BASE}/0d21d5a7-fe93-4618-a122-7ca9a2ee5116/0"), 404)
    assert_error(alice.delete(f"{BASE}/bad/0"), 400)
    assert_error(alice.delete(f"{BASE}/{ann}/-1"), 400)
    alice.delete(f"{BASE}/{ann}/0")
    before = events(alice)
    assert_error(alice.delete(f"{BASE}/{ann}/0"), 409)
    assert events(alice) == before


def test_status_lists_through_the_lifecycle(alice, obj):
    ann = create_annotation(alice, [(obj, 0)])
    assert statuses_of(alice, BASE, ann, 0) == {"pending"}
    accept(alice, event_of(alice, "annotations", ann, 0))
    assert statuses_of(alice, BASE, ann, 0) == {"accepted"}
    alice.delete(f"{BASE}/{ann}/0")
    assert statuses_of(alice, BASE, ann, 0) == {"accepted", "pending"}
    accept(alice, event_of(alice, "annotations", ann, 0, "DeleteEvent"))
    assert statuses_of(alice, BASE, ann, 0) == {"deleted"}
    assert_error(alice.delete(f"{BASE}/{ann}/0"), 409)
    other = create_annotation(alice, [(obj, 0)], {"label": "cat"})
    reject(alice, event_of(alice, "annotations", other, 0))
    assert statuses_of(alice, BASE, other, 0) == {"rejected"}
    assert_error(alice.delete(f"{BASE}/{other}/0"), 409)
    assert status_list(alice, BASE, "rejected") == [{"uuid": other, "version": 0}]
    assert status_list(alice, BASE, "deleted") == [{"uuid": ann, "version": 0}]


def test_status_list_order_and_versions(alice, obj):
    a = create_annotation(alice, [(obj, 0)])
    b = create_annotation(alice, [(obj, 0)], {"label": "b"})
    assert _update(alice, a, {"label": "a1"}).status_code == 200
    assert status_list(alice, BASE, "pending") == [
        {"uuid": a, "version": 0}, {"uuid": a, "version": 1}, {"uuid": b, "version": 0}]
    assert status_list(alice, BASE, "pending", f"?after={a}") == [{"uuid": b, "version": 0}]
    assert status_list(alice, BASE, "pending", "?limit=1") == [{"uuid": a, "version": 0},
                                                     {"uuid": a, "version": 1}]


@pytest.mark.parametrize("word", ["deprecated", "PENDING", "x" * 10_000])
def test_invalid_status_word_is_400(alice, ds, word):
    body = assert_error(alice.get(f"{BASE}/{word}"), 400)
    assert body["valid_statuses"] == ITEM_STATUSES


def test_pagination(alice, obj):
    created = [create_annotation(alice, [(obj, 0)], {"label": str(i)}) for i in range(28)]
    for i in (0, 5):
        assert _update(alice, created[i], {"label": f"v1 {i}"}).status_code == 200
    assert [e["uuid"] for e in alice.get(BASE).json] == created[:25]
    assert [e["uuid"] for e in alice.get(f"{BASE}?after={created[24]}").json] == created[25:]
    collected, after = [], None
    while True:
        page = alice.get(f"{BASE}?limit=4" + (f"&after={after}" if after else "")).json
        if not page:
            break
        collected += page
        after = page[-1]["uuid"]
    assert collected == [{"uuid": u, "versions": 2 if i in (0, 5) else 1,
                          "schema": _schema_entry(alice)} for i, u in enumerate(created)]
    assert_error(alice.get(f"{BASE}?after=nope"), 400)
    assert_error(alice.get(f"{BASE}?after={obj}"), 404)  # an object is no annotation cursor
    assert_error(alice.get(f"{BASE}/pending?after={obj}"), 404)
    assert_error(alice.get(f"{BASE}?limit=0"), 400)
    assert_error(alice.get(f"{BASE}/accepted?limit=1001"), 400)


# --- auth, methods, content type -------------------------------------------------------------


@pytest.mark.parametrize("method,suffix,with_body", [
    ("GET", "", False), ("POST", "", True), ("GET", "/{a}", False), ("PATCH", "/{a}", True),
    ("GET", "/pending", False), ("GET", "/{a}/0", False), ("DELETE", "/{a}/0", False),
])
def test_every_annotation_endpoint_needs_a_key(alice, obj, method, suffix, with_body):
    ann = create_annotation(alice, [(obj, 0)])
    body = annotation_body([(obj, 0)], {"label": "new"}) if with_body else None
    before = events(alice)
    for headers in ({}, {"x-api-key": "nope"}):
        assert_error(alice.request(method, BASE + suffix.format(a=ann), body, headers=headers),
                     401)
    assert events(alice) == before


@pytest.mark.parametrize("method,suffix", [
    ("PUT", ""), ("DELETE", ""), ("POST", "/{a}"), ("DELETE", "/{a}"), ("PUT", "/{a}/0"),
    ("PATCH", "/{a}/0"), ("POST", "/accepted"), ("PATCH", "/rejected"),
])
def test_wrong_methods_are_405(alice, obj, method, suffix):
    ann = create_annotation(alice, [(obj, 0)])
    assert_error(alice.request(method, BASE + suffix.format(a=ann)), 405)


def test_wrong_content_type_is_415(alice, obj):
    data = json.dumps(annotation_body([(obj, 0)]))
    assert_error(alice.request("POST", BASE, data=data, content_type="text/plain"), 415)
    ann = create_annotation(alice, [(obj, 0)])
    assert_error(alice.request("PATCH", f"{BASE}/{ann}", data=json.dumps(
        {"schema": {"name": "schema-label", "version": 0}, "annotation": b64({"label": "x"})}),
        content_type="application/octet-stream"), 415)
    assert alice.get(BASE).json == [{"uuid": ann, "versions": 1,
                                     "schema": _schema_entry(alice)}]
