"""/datasets/<d>/schemas: create, list, info, update, status lists, load, deprecate."""

from __future__ import annotations

import json

import pytest

from tests.support.api import (
    DS,
    ITEM_STATUSES,
    SCHEMA_STATUSES,
    UUID_RE,
    accept,
    assert_error,
    create_schema,
    event_of,
    events,
    reject,
    sha256,
    unb64,
)
from tests.support.http import LABEL_SCHEMA, b64

BASE = f"/datasets/{DS}/schemas"
BOX_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"label": {"type": "string"}, "points": {"type": "array", "minItems": 2}},
    "required": ["label", "points"],
}


def _status(client, status):
    resp = client.get(f"{BASE}/{status}")
    assert resp.status_code == 200, resp.json
    return resp.json


def _statuses(client, name, version):
    """The set of status lists that hold this schema version."""
    return {s for s in SCHEMA_STATUSES
            if {"name": name, "version": version} in
            [{"name": e["name"], "version": e["version"]} for e in _status(client, s)]}


# --- create / list / info --------------------------------------------------------------------


def test_create_schema_shape(alice, ds):
    resp = alice.post(BASE, {"name": "schema-label", "schema": b64(LABEL_SCHEMA)})
    assert resp.status_code == 200
    body = resp.json
    assert set(body) == {"name", "uuid", "versions"}
    assert body["name"] == "schema-label"
    assert UUID_RE.match(body["uuid"])
    assert body["versions"] == 1


def test_list_and_info(alice, bob, ds):
    first = create_schema(alice, "schema-b")
    second = create_schema(bob, "schema-a", BOX_SCHEMA)
    resp = alice.get(BASE)
    assert resp.status_code == 200
    # creation order, each {"name", "uuid", "versions"}
    assert resp.json == [first, second]
    info = alice.get(f"{BASE}/schema-a")
    assert info.status_code == 200
    assert info.json == {"name": "schema-a", "uuid": second["uuid"], "versions": 1}


def test_list_empty(alice, ds):
    assert alice.get(BASE).json == []


def test_info_unknown_schema_is_404(alice, ds):
    assert_error(alice.get(f"{BASE}/schema-nope"), 404, "schema-nope")


def test_schema_without_dollar_schema_uses_2020_12(alice, ds):
    # prefixItems only exists from 2020-12 on; it is a valid schema there
    create_schema(alice, "schema-tuple", {"type": "array", "prefixItems": [{"type": "string"}]})


@pytest.mark.parametrize("dialect", [
    "http://json-schema.org/draft-04/schema#", "http://json-schema.org/draft-06/schema#",
    "http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2019-09/schema",
    "https://json-schema.org/draft/2020-12/schema",
])
def test_every_supported_dialect(alice, ds, dialect):
    create_schema(alice, "schema-d", {"$schema": dialect, "type": "object"})


def test_duplicate_schema_name_is_409(alice, bob, ds):
    create_schema(alice, "schema-label")
    before = events(alice)
    assert_error(bob.post(BASE, {"name": "schema-label", "schema": b64(BOX_SCHEMA)}), 409)
    assert events(alice) == before
    assert len(alice.get(BASE).json) == 1


def test_name_of_rejected_schema_can_be_reused(alice, ds):
    old = create_schema(alice, "schema-label")
    reject(alice, event_of(alice, "schemas", "schema-label", 0))
    new = create_schema(alice, "schema-label", BOX_SCHEMA)
    assert new["uuid"] != old["uuid"]
    # the name now refers to the new schema
    assert alice.get(f"{BASE}/schema-label").json == new
    loaded = alice.get(f"{BASE}/schema-label/0").json
    assert json.loads(unb64(loaded["bytes"])) == BOX_SCHEMA


@pytest.mark.parametrize("name", ["label", "schema-", "Schema-x", "", "x" * 10_000,
                                  "schema-" + "x" * 300])
def test_bad_schema_names_are_400(alice, ds, name):
    assert_error(alice.post(BASE, {"name": name, "schema": b64(LABEL_SCHEMA)}), 400, "name")
    assert alice.get(BASE).json == []


@pytest.mark.parametrize("schema_bytes,where", [
    (json.dumps({"type": 12}).encode(), "type"),
    (json.dumps({"type": "object", "required": "label"}).encode(), "required"),
    (json.dumps({"$schema": "http://json-schema.org/draft-04/schema#",
                 "properties": {"a": {"minLength": -1}}}).encode(), "minLength"),
    (b"{not json", ""),
    (b"\xff\xfe{}", ""),
    (b"", ""),
    (b"[1, 2]", ""),
    (b'"a string"', ""),
    (json.dumps({"$schema": "http://example.com/my-dialect", "type": "object"}).encode(),
     "$schema"),
])
def test_invalid_json_schema_is_422_with_details(alice, ds, schema_bytes, where):
    before = events(alice)
    resp = alice.post(BASE, {"name": "schema-bad", "schema": b64(schema_bytes)})
    body = assert_error(resp, 422)
    assert isinstance(body["details"], list) and body["details"]
    for detail in body["details"]:
        assert isinstance(detail["path"], str) and isinstance(detail["message"], str)
    if where:
        assert any(where in d["path"] or where in d["message"] for d in body["details"]), body
    assert events(alice) == before
    assert_error(alice.get(f"{BASE}/schema-bad"), 404)


def test_bad_base64_is_400(alice, ds):
    for text in ("not base64!", "abc", "eyJ0eXBlIjogIm9iamVjdCJ9\n", "-_-_"):
        assert_error(alice.post(BASE, {"name": "schema-x", "schema": text}), 400, "base64")
    assert alice.get(BASE).json == []


# --- update ----------------------------------------------------------------------------------


def test_update_schema(alice, bob, ds):
    created = create_schema(alice, "schema-label")
    resp = bob.patch(f"{BASE}/schema-label", {"schema": b64(BOX_SCHEMA)})
    assert resp.status_code == 200
    assert resp.json == {"name": "schema-label", "uuid": created["uuid"], "versions": 2}
    assert alice.get(f"{BASE}/schema-label").json["versions"] == 2
    assert alice.get(BASE).json == [{"name": "schema-label", "uuid": created["uuid"],
                                     "versions": 2}]
    loaded = alice.get(f"{BASE}/schema-label/1").json
    assert json.loads(unb64(loaded["bytes"])) == BOX_SCHEMA
    assert loaded["events"][0]["type"] == "ObjectUpdateEvent"
    assert loaded["events"][0]["review"] == "PENDING"


def test_update_with_unchanged_bytes_is_409(alice, ds):
    create_schema(alice, "schema-label")
    before = events(alice)
    assert_error(alice.patch(f"{BASE}/schema-label", {"schema": b64(LABEL_SCHEMA)}), 409)
    assert events(alice) == before


def test_update_unknown_schema_is_404(alice, ds):
    assert_error(alice.patch(f"{BASE}/schema-nope", {"schema": b64(LABEL_SCHEMA)}), 404)


def test_update_with_invalid_schema_is_422(alice, ds):
    create_schema(alice, "schema-label")
    body = assert_error(alice.patch(f"{BASE}/schema-label", {"schema": b64({"type": 7})}), 422)
    assert body["details"]
    assert alice.get(f"{BASE}/schema-label").json["versions"] == 1


def test_update_missing_field_is_400_and_wrong_type_415(alice, ds):
    create_schema(alice, "schema-label")
    assert_error(alice.patch(f"{BASE}/schema-label", {}), 400, "schema")
    assert_error(alice.patch(f"{BASE}/schema-label", {"schema": 5}), 400)
    assert_error(alice.request("PATCH", f"{BASE}/schema-label", data=b64(BOX_SCHEMA),
                               content_type="text/plain"), 415)
    assert alice.get(f"{BASE}/schema-label").json["versions"] == 1


def test_patch_on_status_word_is_405(alice, ds):
    assert_error(alice.patch(f"{BASE}/accepted", {"schema": b64(LABEL_SCHEMA)}), 405)


# --- status lists ----------------------------------------------------------------------------


def test_status_lists_follow_reviews(alice, ds):
    uuid = create_schema(alice, "schema-label")["uuid"]
    entry = {"uuid": uuid, "name": "schema-label", "version": 0}
    assert _status(alice, "pending") == [entry]
    assert _status(alice, "accepted") == []
    accept(alice, event_of(alice, "schemas", "schema-label", 0))
    assert _status(alice, "accepted") == [entry]
    assert _status(alice, "pending") == []
    # propose deprecation: still accepted, and pending (its deletion awaits review)
    assert alice.delete(f"{BASE}/schema-label/0").status_code == 200
    assert _statuses(alice, "schema-label", 0) == {"accepted", "pending"}
    accept(alice, event_of(alice, "schemas", "schema-label", 0, "DeleteEvent"))
    assert _status(alice, "deprecated") == [entry]
    assert _status(alice, "accepted") == [] and _status(alice, "pending") == []
    assert _status(alice, "rejected") == []


def test_rejected_create_and_rejected_deprecation(alice, ds):
    create_schema(alice, "schema-label")
    alice.patch(f"{BASE}/schema-label", {"schema": b64(BOX_SCHEMA)})
    reject(alice, event_of(alice, "schemas", "schema-label", 1))
    assert _statuses(alice, "schema-label", 1) == {"rejected"}
    assert _statuses(alice, "schema-label", 0) == {"pending"}
    accept(alice, event_of(alice, "schemas", "schema-label", 0))
    alice.delete(f"{BASE}/schema-label/0")
    reject(alice, event_of(alice, "schemas", "schema-label", 0, "DeleteEvent"))
    assert _statuses(alice, "schema-label", 0) == {"accepted"}


def test_status_list_holds_one_entry_per_version_in_order(alice, ds):
    a = create_schema(alice, "schema-a")["uuid"]
    b = create_schema(alice, "schema-b", BOX_SCHEMA)["uuid"]
    alice.patch(f"{BASE}/schema-a", {"schema": b64({"type": "object"})})
    assert _status(alice, "pending") == [
        {"uuid": a, "name": "schema-a", "version": 0},
        {"uuid": a, "name": "schema-a", "version": 1},
        {"uuid": b, "name": "schema-b", "version": 0},
    ]


@pytest.mark.parametrize("word", ["deleted", "ACCEPTED", "all", "pendings", "x" * 10_000])
def test_invalid_status_word_is_400_with_valid_statuses(alice, ds, word):
    body = assert_error(alice.get(f"{BASE}/{word}"), 400)
    assert body["valid_statuses"] == SCHEMA_STATUSES


def test_schemas_never_appear_in_object_lists(alice, ds):
    uuid = create_schema(alice, "schema-label")["uuid"]
    alice.delete(f"{BASE}/schema-label/0")
    create_schema(alice, "schema-rejected", BOX_SCHEMA)
    reject(alice, event_of(alice, "schemas", "schema-rejected", 0))
    create_schema(alice, "schema-deprecated", {"type": "string"})
    accept(alice, event_of(alice, "schemas", "schema-deprecated", 0))
    alice.delete(f"{BASE}/schema-deprecated/0")
    accept(alice, event_of(alice, "schemas", "schema-deprecated", 0, "DeleteEvent"))
    assert alice.get(f"/datasets/{DS}/objects").json == []
    for status in ITEM_STATUSES:
        assert alice.get(f"/datasets/{DS}/objects/{status}").json == [], status
    assert_error(alice.get(f"/datasets/{DS}/objects/{uuid}"), 404)
    assert_error(alice.get(f"/datasets/{DS}/objects/{uuid}/0"), 404)
    assert_error(alice.patch(f"/datasets/{DS}/objects/{uuid}",
                             {"name": "x", "mimetype": "text/plain", "object": b64("x")}), 404)
    assert_error(alice.delete(f"/datasets/{DS}/objects/{uuid}/0"), 404)


# --- load ------------------------------------------------------------------------------------


def test_load_schema_shape(alice, ds):
    uuid = create_schema(alice, "schema-label")["uuid"]
    raw = json.dumps(LABEL_SCHEMA).encode()
    resp = alice.get(f"{BASE}/schema-label/0")
    assert resp.status_code == 200
    body = resp.json
    assert set(body) == {"schema", "bytes", "events"}
    assert body["schema"] == {"uuid": uuid, "version": 0, "name": "schema-label",
                              "format": "application/schema+json", "size": len(raw),
                              "hash_type": 1, "hash": sha256(raw)}
    assert unb64(body["bytes"]) == raw
    create_event = events(alice)[-1]
    assert body["events"] == [{"uuid": create_event["uuid"], "type": "ObjectCreateEvent",
                               "review": "PENDING"}]


def test_load_lists_every_event_that_touched_the_version(alice, ds):
    create_schema(alice, "schema-label")
    create_uuid = event_of(alice, "schemas", "schema-label", 0)
    accept(alice, create_uuid)
    alice.delete(f"{BASE}/schema-label/0")
    log = events(alice)
    accept_uuid, delete_uuid = log[-2]["uuid"], log[-1]["uuid"]
    body = alice.get(f"{BASE}/schema-label/0").json
    assert body["events"] == [
        {"uuid": create_uuid, "type": "ObjectCreateEvent", "review": "ACCEPTED"},
        {"uuid": accept_uuid, "type": "ReviewAcceptEvent", "review": None},
        {"uuid": delete_uuid, "type": "ObjectDeleteEvent", "review": "PENDING"},
    ]


def test_load_rejected_and_deprecated_versions_keeps_bytes(alice, ds):
    create_schema(alice, "schema-label")
    alice.patch(f"{BASE}/schema-label", {"schema": b64(BOX_SCHEMA)})
    reject(alice, event_of(alice, "schemas", "schema-label", 1))
    accept(alice, event_of(alice, "schemas", "schema-label", 0))
    alice.delete(f"{BASE}/schema-label/0")
    accept(alice, event_of(alice, "schemas", "schema-label", 0, "DeleteEvent"))
    assert json.loads(unb64(alice.get(f"{BASE}/schema-label/0").json["bytes"])) == LABEL_SCHEMA
    assert json.loads(unb64(alice.get(f"{BASE}/schema-label/1").json["bytes"])) == BOX_SCHEMA


def test_load_errors(alice, ds):
    create_schema(alice, "schema-label")
    assert_error(alice.get(f"{BASE}/schema-label/1"), 404)
    assert_error(alice.get(f"{BASE}/schema-nope/0"), 404)
    assert_error(alice.get(f"{BASE}/schema-label/x"), 400, "version")
    assert_error(alice.get(f"{BASE}/schema-label/-1"), 400, "version")
    assert_error(alice.get(f"{BASE}/schema-label/1.0"), 400, "version")
    assert_error(alice.get(f"{BASE}/schema-label/" + "9" * 40), 400, "version")
    assert_error(alice.get(f"{BASE}/label/0"), 400, "schema-")


# --- deprecate -------------------------------------------------------------------------------


def test_deprecate_schema(alice, bob, ds):
    uuid = create_schema(alice, "schema-label")["uuid"]
    resp = bob.delete(f"{BASE}/schema-label/0")
    assert resp.status_code == 200
    assert resp.json == {"uuid": uuid, "version": 0, "name": "schema-label"}
    event = events(alice)[-1]
    assert event["type"] == "ObjectDeleteEvent"
    assert event["object_identifier"] == {"uuid": uuid, "version": 0}
    assert event["author"] == "bob"


def test_deprecate_twice_is_409(alice, ds):
    create_schema(alice, "schema-label")
    alice.delete(f"{BASE}/schema-label/0")
    before = events(alice)
    assert_error(alice.delete(f"{BASE}/schema-label/0"), 409, "pending")
    accept(alice, event_of(alice, "schemas", "schema-label", 0, "CreateEvent"))
    accept(alice, event_of(alice, "schemas", "schema-label", 0, "DeleteEvent"))
    assert_error(alice.delete(f"{BASE}/schema-label/0"), 409, "deleted")
    assert len(events(alice)) == len(before) + 2


def test_deprecate_rejected_version_is_409(alice, ds):
    create_schema(alice, "schema-label")
    reject(alice, event_of(alice, "schemas", "schema-label", 0))
    assert_error(alice.delete(f"{BASE}/schema-label/0"), 409, "rejected")


def test_deprecate_errors(alice, ds):
    create_schema(alice, "schema-label")
    assert_error(alice.delete(f"{BASE}/schema-label/1"), 404)
    assert_error(alice.delete(f"{BASE}/schema-nope/0"), 404)
    assert_error(alice.delete(f"{BASE}/schema-label/v0"), 400)
    assert_error(alice.delete(f"{BASE}/label/0"), 400)


# --- auth, methods ---------------------------------------------------------------------------


def test_non_owner_may_propose_but_not_review(alice, bob, ds):
    create_schema(bob, "schema-label")
    event_uuid = event_of(bob, "schemas", "schema-label", 0)
    before = events(alice)
    assert_error(bob.put(f"/datasets/{DS}/events/{event_uuid}/accept"), 403, "owner")
    assert_error(bob.put(f"/datasets/{DS}/events/{event_uuid}/reject"), 403, "owner")
    assert events(alice) == before
    assert alice.get(f"{BASE}/schema-label/0").json["events"][0]["review"] == "PENDING"


@pytest.mark.parametrize("method,path,body", [
    ("GET", "", None), ("POST", "", {"name": "schema-x", "schema": b64(LABEL_SCHEMA)}),
    ("GET", "/schema-label", None), ("PATCH", "/schema-label", {"schema": b64({})}),
    ("GET", "/accepted", None), ("GET", "/schema-label/0", None),
    ("DELETE", "/schema-label/0", None),
])
def test_every_schema_endpoint_needs_a_key(alice, ds, method, path, body):
    create_schema(alice, "schema-label")
    before = events(alice)
    for headers in ({}, {"x-api-key": "wrong"}):
        assert_error(alice.request(method, BASE + path, body, headers=headers), 401)
    assert events(alice) == before


@pytest.mark.parametrize("method,path", [
    ("PUT", ""), ("DELETE", ""), ("PATCH", ""), ("POST", "/schema-label"),
    ("DELETE", "/schema-label"), ("PUT", "/schema-label"), ("POST", "/schema-label/0"),
    ("PATCH", "/schema-label/0"),
])
def test_wrong_methods_are_405(alice, ds, method, path):
    assert_error(alice.request(method, BASE + path), 405)


def test_wrong_content_type_is_415(alice, ds):
    data = json.dumps({"name": "schema-x", "schema": b64(LABEL_SCHEMA)})
    assert_error(alice.request("POST", BASE, data=data, content_type="text/json"), 415)
    assert alice.get(BASE).json == []


@pytest.mark.parametrize("name", ["schema-a/b", "schema-a b", "schema-ä", "schema-" + "x" * 249])
def test_schema_names_must_be_reachable_by_url(alice, ds, name):
    before = events(alice)
    assert_error(alice.post(f"/datasets/{DS}/schemas",
                            {"name": name, "schema": b64(LABEL_SCHEMA)}), 400, "Schema names")
    assert events(alice) == before
